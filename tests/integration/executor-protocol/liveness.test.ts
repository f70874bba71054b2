import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ExecutorDocument,
  ExecutorHeartbeatDocument,
  ExecutorStatusChangedDocument,
  ReportTaskStartedDocument,
  TaskInstanceDocument,
  TaskInstanceUpdatedDocument,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { record, wsClient } from '../../helpers/ws-client.js';
import { executorWithTask } from './fixtures.js';

describe('executor liveness', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer({ GRAPHCRON_EXECUTOR_HEARTBEAT_TIMEOUT_SECONDS: '2' });
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  it('an executor that stops heartbeating goes offline and its running run ends UNKNOWN', async () => {
    const { executor, run } = await executorWithTask(server, admin);
    const watcher = wsClient(server.anonymous.url, () => ({
      authorization: `Bearer ${admin.token}`,
    }));
    const statuses = record(watcher, ExecutorStatusChangedDocument);
    const feed = executor.assignments();
    const instanceId = await run();
    await feed.atLeast(1);
    const updates = record(watcher, TaskInstanceUpdatedDocument, { instanceId });
    await executor.data(ReportTaskStartedDocument, {
      input: { instanceId, attempt: 1, startedAt: new Date().toISOString() },
    });
    expect((await admin.data(ExecutorDocument, { id: executor.id })).executor.isOnline).toBe(true);

    // From here the executor is silent.
    feed.dispose();
    await executor.close();
    await updates.atLeast(2, 15_000);
    expect(updates.items.map((u) => u.taskInstanceUpdated.status)).toEqual(['RUNNING', 'UNKNOWN']);
    const { taskInstance } = await admin.data(TaskInstanceDocument, { id: instanceId });
    expect(taskInstance).toMatchObject({ status: 'UNKNOWN', statusCode: 81 });
    await statuses.atLeast(2, 15_000);
    expect(
      statuses.items.map((s) => [s.executorStatusChanged.id, s.executorStatusChanged.isOnline]),
    ).toEqual([
      [executor.id, true],
      [executor.id, false],
    ]);

    // Heartbeats bring it back.
    await executor.data(ExecutorHeartbeatDocument, { input: { runningInstanceIds: [] } });
    await statuses.atLeast(3, 15_000);
    expect(statuses.items[2]!.executorStatusChanged.isOnline).toBe(true);
    statuses.dispose();
    updates.dispose();
    await watcher.dispose();
  });
});
