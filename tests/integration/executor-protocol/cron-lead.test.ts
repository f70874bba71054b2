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
    const [message] = await feed.atLeast(1);
    const receivedAt = Date.now();
    const assignment = message!.executorAssignments;
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
