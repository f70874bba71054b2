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
    // The run's state as the subscription starts comes first: from here no change is missed.
    await updates.atLeast(1);
    await executor.data(ReportTaskStartedDocument, {
      input: { instanceId, attempt: 1, startedAt: new Date().toISOString() },
    });
    expect((await admin.data(ExecutorDocument, { id: executor.id })).executor.isOnline).toBe(true);

    // From here the executor is silent.
    feed.dispose();
    await executor.close();
    await updates.atLeast(3, 15_000);
    expect(updates.items.map((u) => u.taskInstanceUpdated.status)).toEqual([
      'DISPATCHED',
      'RUNNING',
      'UNKNOWN',
    ]);
    const { taskInstance } = await admin.data(TaskInstanceDocument, { id: instanceId });
    expect(taskInstance).toMatchObject({ status: 'UNKNOWN', statusCode: 81 });
    // Nothing tells when the watcher's subscription went live: under load it can be after the
    // executor came online, so that first change is not asserted, only that it went offline.
    const isOnline = () => statuses.items.map((s) => s.executorStatusChanged.isOnline);
    await expect.poll(() => isOnline().at(-1), { timeout: 15_000 }).toBe(false);
    expect(statuses.items.every((s) => s.executorStatusChanged.id === executor.id)).toBe(true);
    expect(isOnline().filter((online) => !online)).toHaveLength(1);

    // Heartbeats bring it back.
    const seen = statuses.items.length;
    await executor.data(ExecutorHeartbeatDocument, { input: { runningInstanceIds: [] } });
    await statuses.atLeast(seen + 1, 15_000);
    expect(statuses.items[seen]!.executorStatusChanged.isOnline).toBe(true);
    statuses.dispose();
    updates.dispose();
    await watcher.dispose();
  });
});
