import type { Client } from 'graphql-ws';
import {
  RunOutcomeDocument,
  TaskInstanceUpdatedDocument,
  type RunOutcomeQuery,
} from '../generated/graphql.js';
import type { GraphqlClient } from './graphql-client.js';
import { record } from './ws-client.js';

export type RunOutcome = RunOutcomeQuery['taskInstance'];
type Status = RunOutcome['status'];

/**
 * Resolves with the run once its status is one of `statuses`: watches `taskInstanceUpdated`
 * (no polling), and reads the run once after subscribing so an earlier change is not missed.
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
      seen = (await updates.atLeast(seen + 1, remaining).catch(() => updates.items)).length;
    }
  } finally {
    updates.dispose();
  }
}
