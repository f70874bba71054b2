import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AcknowledgeAssignmentDocument,
  ReconcileExecutorRunsDocument,
  ReportTaskStartedDocument,
  TaskInstanceDocument,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { executorWithTask } from './fixtures.js';

describe('reconcileExecutorRuns: an executor starting again lists the runs it knows', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  const now = () => new Date().toISOString();
  const statusOf = async (id: string) =>
    (await admin.data(TaskInstanceDocument, { id })).taskInstance;

  it('ends the acknowledged and running runs it does not list, and leaves the rest as they were', async () => {
    const { executor, run } = await executorWithTask(server, admin, { command: 'sleep 30' });
    const other = await executorWithTask(server, admin, { command: 'sleep 30' });
    const feed = executor.assignments();
    const otherFeed = other.executor.assignments();
    // The fixture's executor has room for four.
    const [running, acknowledged, listed, unacknowledged] = [
      await run(),
      await run(),
      await run(),
      await run(),
    ];
    const othersRun = await other.run();
    await feed.atLeast(4);
    await otherFeed.atLeast(1);
    for (const instanceId of [running, listed]) {
      await executor.data(ReportTaskStartedDocument, {
        input: { instanceId, attempt: 1, startedAt: now() },
      });
    }
    await executor.data(AcknowledgeAssignmentDocument, { instanceId: acknowledged, attempt: 1 });
    await other.executor.data(ReportTaskStartedDocument, {
      input: { instanceId: othersRun, attempt: 1, startedAt: now() },
    });

    const { reconcileExecutorRuns } = await executor.data(ReconcileExecutorRunsDocument, {
      input: {
        knownRuns: [
          { instanceId: listed, attempt: 1 },
          // The same run at another attempt is not this one.
          { instanceId: running, attempt: 2 },
          // Runs the server has no record of change nothing.
          { instanceId: '123456789', attempt: 1 },
        ],
      },
    });
    expect([...reconcileExecutorRuns.endedInstanceIds].sort()).toEqual(
      [running, acknowledged].sort(),
    );
    for (const id of [running, acknowledged]) {
      expect(await statusOf(id)).toMatchObject({
        status: 'ABNORMAL_ENDING',
        statusReason: expect.stringMatching(/started again without a record of this run/),
      });
    }
    expect((await statusOf(listed)).status).toBe('RUNNING');
    // Not acknowledged: the subscription sends it again, and it runs.
    expect((await statusOf(unacknowledged)).status).toBe('DISPATCHED');
    // Another executor's run is not this executor's to end.
    expect((await statusOf(othersRun)).status).toBe('RUNNING');

    // Nothing is ended twice: the same list again changes nothing.
    const again = await executor.data(ReconcileExecutorRunsDocument, {
      input: { knownRuns: [{ instanceId: listed, attempt: 1 }] },
    });
    expect(again.reconcileExecutorRuns.endedInstanceIds).toEqual([]);
    feed.dispose();
    otherFeed.dispose();
    await executor.close();
    await other.executor.close();
  });

  it('a lost run whose task allows a retry gets a new attempt, sent to the executor', async () => {
    const { executor, run } = await executorWithTask(server, admin, {
      command: 'sleep 30',
      retryTimes: 1,
    });
    const feed = executor.assignments();
    const instanceId = await run();
    await feed.atLeast(1);
    await executor.data(ReportTaskStartedDocument, {
      input: { instanceId, attempt: 1, startedAt: now() },
    });
    const { reconcileExecutorRuns } = await executor.data(ReconcileExecutorRunsDocument, {
      input: { knownRuns: [] },
    });
    expect(reconcileExecutorRuns.endedInstanceIds).toEqual([instanceId]);
    const [, retry] = await feed.atLeast(2);
    expect(retry!.executorAssignments).toMatchObject({ instanceId, attempt: 2 });
    expect(await statusOf(instanceId)).toMatchObject({ attempt: 2, retryCount: 1 });
    feed.dispose();
    await executor.close();
  });

  it('refuses a malformed list with BAD_USER_INPUT and changes nothing; only executors may call it (UNAUTHENTICATED)', async () => {
    const { executor, run } = await executorWithTask(server, admin, { command: 'sleep 30' });
    const feed = executor.assignments();
    const instanceId = await run();
    await feed.atLeast(1);
    await executor.data(ReportTaskStartedDocument, {
      input: { instanceId, attempt: 1, startedAt: now() },
    });
    for (const [knownRun, field] of [
      [{ instanceId: 'not-an-id', attempt: 1 }, 'input.knownRuns[0].instanceId'],
      [{ instanceId, attempt: 0 }, 'input.knownRuns[0].attempt'],
    ] as const) {
      const result = await executor.call(ReconcileExecutorRunsDocument, {
        input: { knownRuns: [knownRun] },
      });
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    const asUser = await admin.execute(ReconcileExecutorRunsDocument, {
      input: { knownRuns: [] },
    });
    expect(asUser.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await statusOf(instanceId)).status).toBe('RUNNING');
    feed.dispose();
    await executor.close();
  });
});
