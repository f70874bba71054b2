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
 * Resolves with the run once its status is one of `statuses`, watching `taskInstanceUpdated`: it
 * sends the run's state as the subscription starts, then each change, so a change landing while
 * the subscription went live on the server is not missed.
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
    for (let seen = 0; ; seen++) {
      const remaining = Math.max(1, deadline - Date.now());
      const items = await updates.atLeast(seen + 1, remaining).catch(async (error: unknown) => {
        const { taskInstance } = await client.data(RunOutcomeDocument, { id: instanceId });
        throw new Error(
          `run ${instanceId} is ${taskInstance.status}, not ${statuses.join('/')}: ${String(error)}`,
        );
      });
      if (items.length <= seen)
        throw new Error(`the watch on run ${instanceId} ended: ${String(updates.errors)}`);
      if (statuses.includes(items[seen]!.taskInstanceUpdated.status))
        return (await client.data(RunOutcomeDocument, { id: instanceId })).taskInstance;
    }
  } finally {
    updates.dispose();
  }
}
