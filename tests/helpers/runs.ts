import type { Client } from 'graphql-ws';
import {
  RunOutcomeDocument,
  TaskInstanceUpdatedDocument,
  type RunOutcomeQuery,
} from '../generated/graphql.js';
import type { GraphqlClient } from './graphql-client.js';
import { record } from './ws-client.js';

export type RunOutcome = RunOutcomeQuery['taskInstance'];

const recheckMs = 200;
type Status = RunOutcome['status'];

/**
 * Resolves with the run once its status is one of `statuses`: watches `taskInstanceUpdated`, and
 * reads the run after subscribing and again every `recheckMs`. The subscription goes live on the
 * server some time after it is sent: a change landing in between was missed, and the wait ran
 * into its 20 s timeout (an e2e cancellation "took" 20 s while the run had ended in 50 ms).
 */
export async function waitForStatus(
  client: GraphqlClient,
  socket: Client,
  instanceId: string,
  statuses: Status[],
  timeoutMs = 20_000,
): Promise<RunOutcome> {
  const updates = record(socket, TaskInstanceUpdatedDocument, { instanceId });
  try {
    const deadline = Date.now() + timeoutMs;
    for (let seen = 0; ;) {
      const { taskInstance } = await client.data(RunOutcomeDocument, { id: instanceId });
      if (statuses.includes(taskInstance.status)) return taskInstance;
      const remaining = deadline - Date.now();
      if (remaining <= 0)
        throw new Error(`run ${instanceId} is ${taskInstance.status}, not ${statuses.join('/')}`);
      seen = (
        await updates.atLeast(seen + 1, Math.min(remaining, recheckMs)).catch(() => updates.items)
      ).length;
    }
  } finally {
    updates.dispose();
  }
}
