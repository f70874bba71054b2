import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CancelTaskInstanceDocument,
  TaskInstanceUpdatedDocument,
  type TaskInstanceUpdatedSubscription,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { record, wsClient } from '../../helpers/ws-client.js';
import { executorWithTask } from '../executor-protocol/fixtures.js';

const statusesOf = (items: TaskInstanceUpdatedSubscription[]) =>
  items.map((item) => item.taskInstanceUpdated.status);

describe('taskInstanceUpdated for one run', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  const watcherFor = (client: GraphqlClient) =>
    wsClient(server.anonymous.url, () => ({ authorization: `Bearer ${client.token}` }));

  it('starts with the run as it is, then sends each change once', async () => {
    // The executor never connects: its runs wait, SCHEDULED.
    const { run } = await executorWithTask(server, admin);
    const instanceId = await run();
    const watcher = watcherFor(admin);
    try {
      const updates = record(watcher, TaskInstanceUpdatedDocument, { instanceId });
      expect(statusesOf(await updates.atLeast(1))).toEqual(['SCHEDULED']);
      await admin.data(CancelTaskInstanceDocument, { id: instanceId });
      expect(statusesOf(await updates.atLeast(2))).toEqual(['SCHEDULED', 'MANUAL_CANCELLATION']);
      updates.dispose();

      // A run that already ended: its final state, at once.
      const late = record(watcher, TaskInstanceUpdatedDocument, { instanceId });
      expect(statusesOf(await late.atLeast(1))).toEqual(['MANUAL_CANCELLATION']);
      late.dispose();

      const unknown = record(watcher, TaskInstanceUpdatedDocument, { instanceId: '9'.repeat(18) });
      await unknown.done;
      expect(unknown.items).toEqual([]);
      expect(JSON.stringify(unknown.errors)).toMatch(/NOT_FOUND/);
    } finally {
      await watcher.dispose();
    }
  });
});
