import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskInstanceDocument } from '../../generated/graphql.js';
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
});
