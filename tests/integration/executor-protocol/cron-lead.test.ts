import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SubmitExecutorReportsDocument, TaskInstanceDocument } from '../../generated/graphql.js';
import { query } from '../../../src/database/sql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { executorWithTask } from './fixtures.js';

describe('cron fires sent ahead of their time (GRAPHCRON_CRON_LEAD_MS)', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer({ GRAPHCRON_CRON_LEAD_MS: '3000' });
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  it('reach the executor before their second, with startAt = the fire time', async () => {
    const { executor } = await executorWithTask(server, admin, {
      cronExpression: '* * * * * *',
    });
    const feed = executor.assignments();
    // The first fire may be late (the task was created just before it); the ones after it are
    // made up to 3 s ahead, in the same pass.
    const messages = await feed.atLeast(2);
    const receivedAt = Date.now();
    const assignments = messages.map((message) => message.executorAssignments);
    const startOf = (a: (typeof assignments)[number]) =>
      a.__typename === 'ExecutorAssignment' && a.startAt ? new Date(a.startAt).getTime() : 0;
    const assignment = assignments.reduce((latest, a) =>
      startOf(a) > startOf(latest) ? a : latest,
    );
    if (assignment.__typename !== 'ExecutorAssignment') throw new Error('not an assignment');
    expect(assignment.startAt).not.toBeNull();
    const startAt = new Date(assignment.startAt as string).getTime();
    expect(startAt).toBeGreaterThan(receivedAt);
    expect(new Date(assignment.dispatchedAt as string).getTime()).toBeLessThan(startAt);
    const { taskInstance } = await admin.data(TaskInstanceDocument, {
      id: assignment.instanceId,
    });
    expect(taskInstance).toMatchObject({ trigger: 'CRON', status: 'DISPATCHED' });
    expect(new Date(taskInstance.scheduledAt as string).getTime()).toBe(startAt);
    feed.dispose();
    await executor.close();
  });

  it('a SKIP task whose runs end quickly still gets its fires made ahead (once its run ended)', async () => {
    const { executor, taskId } = await executorWithTask(server, admin, {
      cronExpression: '* * * * * *',
      maxParallelRuns: 1,
      overlapPolicy: 'SKIP',
    });
    const feed = executor.assignments();
    // Runs each fire as soon as it may start, and reports it over at once.
    const finished = new Set<string>();
    for (let count = 1; finished.size < 5; count++) {
      const messages = await feed.atLeast(count);
      const message = messages[count - 1]!.executorAssignments;
      if (message.__typename !== 'ExecutorAssignment' || finished.has(message.instanceId)) continue;
      const startAt = message.startAt ? new Date(message.startAt).getTime() : 0;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, startAt - Date.now())));
      const run = { instanceId: message.instanceId, attempt: message.attempt };
      const at = new Date().toISOString();
      await executor.data(SubmitExecutorReportsDocument, {
        input: {
          acknowledged: [],
          started: [{ ...run, startedAt: at }],
          logs: [],
          finished: [{ ...run, status: 'FINISHED', exitCode: 0, finishedAt: at }],
        },
      });
      finished.add(message.instanceId);
    }
    const rows = await query<{ ahead: boolean; status: number }>(
      server.app.orm.em.fork(),
      `select created_at < scheduled_at as ahead, status from task_instances
        where task_id = $1 and status = 2 order by scheduled_at`,
      [Number(taskId)],
    );
    // Every fire after the first was made while the one before it was still in progress at
    // some point of its lead window.
    expect(rows.slice(1).every((row) => row.ahead)).toBe(true);
    feed.dispose();
    await executor.close();
  });
});
