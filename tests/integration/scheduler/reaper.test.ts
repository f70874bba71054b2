import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AcknowledgeAssignmentDocument,
  CancelTaskInstanceDocument,
  CreateExecutorGroupDocument,
  ExecutorBindingsDocument,
  ReaperCreateTaskDocument,
  ReaperRunStateDocument,
  ReportTaskFinishedDocument,
  ReportTaskStartedDocument,
  RunTaskDocument,
  type ExecutorAssignmentsSubscription,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { waitForStatus } from '../../helpers/runs.js';
import { TestExecutor } from '../../helpers/test-executor.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { wsClient } from '../../helpers/ws-client.js';

/** `instanceId@attempt` of each assignment (cancellations are marked as such). */
function sent(items: ExecutorAssignmentsSubscription[]): string[] {
  return items.map(({ executorAssignments: m }) =>
    m.__typename === 'ExecutorAssignment'
      ? `${m.instanceId}@${m.attempt}`
      : `cancel ${m.instanceId}@${m.attempt}`,
  );
}

/**
 * The reaper against a real server with a 2 s acknowledgement timeout: what happens when time
 * passes is awaited as the event it causes (an assignment, a status change), never slept for.
 */
describe('reaper', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer({
      GRAPHCRON_ASSIGNMENT_ACK_TIMEOUT_SECONDS: '2',
      GRAPHCRON_CRON_TICKER: '0',
    });
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  /** An enrolled executor (not connected) in its own group, and tasks bound to it. */
  async function executorWithTasks(
    tasks: { maxWaitSeconds?: number; retryTimes?: number; retryIntervalSeconds?: number }[],
  ): Promise<{ executor: TestExecutor; taskIds: string[] }> {
    const suffix = randomBytes(3).toString('hex');
    const { createExecutorGroup } = await admin.data(CreateExecutorGroupDocument, {
      input: { name: `reaper-${suffix}` },
    });
    const executor = await TestExecutor.enroll(server, {
      name: `reaper-executor-${suffix}`,
      groupId: createExecutorGroup.id,
    });
    const { executorBindings } = await admin.data(ExecutorBindingsDocument, {
      filter: { executorId: executor.id },
    });
    const taskIds: string[] = [];
    for (const [index, { maxWaitSeconds, ...task }] of tasks.entries()) {
      const { createTask } = await admin.data(ReaperCreateTaskDocument, {
        input: {
          name: `reaper-task-${suffix}-${index}`,
          command: 'true',
          maxParallelRuns: 10,
          maxWaitSeconds: maxWaitSeconds ?? null,
          bindingIds: executorBindings.nodes.map((b) => b.id),
          ...task,
        },
      });
      expect(createTask.maxWaitSeconds).toBe(maxWaitSeconds ?? null);
      taskIds.push(createTask.id);
    }
    return { executor, taskIds };
  }

  const runTask = async (taskId: string) =>
    (await admin.data(RunTaskDocument, { id: taskId })).runTask.id;

  it('dispatches an unacknowledged assignment again as a new attempt, until it is acknowledged', async () => {
    const {
      executor,
      taskIds: [taskId],
    } = await executorWithTasks([{}]);
    const feed = executor.assignments();
    const instanceId = await runTask(taskId!);
    await feed.atLeast(1);
    expect(sent(feed.items)).toEqual([`${instanceId}@1`]);

    // Received, never acknowledged: after the 2 s timeout the reaper makes it attempt 2, and
    // the dispatcher sends that to the (only) executor.
    await feed.atLeast(2, 10_000);
    expect(sent(feed.items)).toEqual([`${instanceId}@1`, `${instanceId}@2`]);
    const { taskInstance } = await admin.data(ReaperRunStateDocument, { id: instanceId });
    expect(taskInstance).toMatchObject({
      status: 'DISPATCHED',
      attempt: 2,
      retryCount: 0, // a re-dispatch is not a retry
      executorId: executor.id,
    });
    expect(taskInstance.attempts).toHaveLength(1);
    expect(taskInstance.attempts[0]).toMatchObject({ attempt: 1, executorId: executor.id });
    expect(taskInstance.attempts[0]!.statusReason).toMatch(/acknowledged/);

    // The executor wakes up late with attempt 1: refused, nothing changes.
    const late = await executor.call(ReportTaskStartedDocument, {
      input: { instanceId, attempt: 1, startedAt: new Date().toISOString() },
    });
    expect(late.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect(
      (await admin.data(ReaperRunStateDocument, { id: instanceId })).taskInstance,
    ).toMatchObject({ status: 'DISPATCHED', attempt: 2 });

    // Acknowledged: no further re-dispatch. The witness is a second run, dispatched after the
    // acknowledgement and never acknowledged: the reaper pass that re-dispatches it also looks
    // at the first (dispatched earlier, so past the timeout too), in the same statement.
    await executor.data(AcknowledgeAssignmentDocument, { instanceId, attempt: 2 });
    const witness = await runTask(taskId!);
    await feed.atLeast(3);
    expect(sent(feed.items).slice(2)).toEqual([`${witness}@1`]);
    await feed.atLeast(4, 10_000);
    expect(sent(feed.items).slice(2)).toEqual([`${witness}@1`, `${witness}@2`]);
    const after = await admin.data(ReaperRunStateDocument, { id: instanceId });
    expect(after.taskInstance).toMatchObject({ status: 'DISPATCHED', attempt: 2 });
    expect(after.taskInstance.attempts).toHaveLength(1);

    await executor.data(AcknowledgeAssignmentDocument, { instanceId: witness, attempt: 2 });
    feed.dispose();
    await executor.close();
  });

  it('fails a run that waited past maxWaitSeconds for an offline executor; one without keeps waiting', async () => {
    // Enrolled, never connected: offline, so nothing is dispatched to it.
    const {
      taskIds: [patientTask, boundedTask],
    } = await executorWithTasks([{}, { maxWaitSeconds: 2 }]);
    const watcher = wsClient(server.anonymous.url, () => ({
      authorization: `Bearer ${admin.token}`,
    }));
    try {
      // Created first, so it has waited at least as long when the other one fails.
      const patient = await runTask(patientTask!);
      const startedAt = Date.now();
      const bounded = await runTask(boundedTask!);
      const failed = await waitForStatus(admin, watcher, bounded, ['ABNORMAL_ENDING'], 10_000);
      const waitedMs = Date.now() - startedAt;
      expect(failed.statusReason).toMatch(/maxWaitSeconds/);
      expect(failed.executorId).toBeNull();
      expect(failed.dispatchedAt).toBeNull();
      // 2 s on the database clock, then up to one reaper interval (1 s) and some slack.
      expect(waitedMs).toBeGreaterThanOrEqual(1_900);
      expect(waitedMs).toBeLessThan(6_000);

      const { taskInstance } = await admin.data(ReaperRunStateDocument, { id: patient });
      expect(taskInstance).toMatchObject({ status: 'SCHEDULED', attempt: 1, statusReason: null });
    } finally {
      await watcher.dispose();
    }
  });

  it('gives a retry a wait of its own: maxWaitSeconds does not end it while it is held back', async () => {
    // The retry becomes available 3 s after attempt 1 failed, past attempt 1's 2 s deadline.
    const {
      executor,
      taskIds: [taskId],
    } = await executorWithTasks([{ maxWaitSeconds: 2, retryTimes: 1, retryIntervalSeconds: 3 }]);
    const feed = executor.assignments();
    const instanceId = await runTask(taskId!);
    await feed.atLeast(1);
    await executor.data(AcknowledgeAssignmentDocument, { instanceId, attempt: 1 });
    await executor.data(ReportTaskFinishedDocument, {
      input: {
        instanceId,
        attempt: 1,
        status: 'ABNORMAL_ENDING',
        exitCode: 1,
        finishedAt: new Date().toISOString(),
      },
    });
    // Before the fix the reaper ended the held-back retry ABNORMAL_ENDING ("maxWaitSeconds")
    // and this never came.
    await feed.atLeast(2, 10_000);
    expect(sent(feed.items)).toEqual([`${instanceId}@1`, `${instanceId}@2`]);
    await executor.data(AcknowledgeAssignmentDocument, { instanceId, attempt: 2 });
    const { taskInstance } = await admin.data(ReaperRunStateDocument, { id: instanceId });
    expect(taskInstance).toMatchObject({ status: 'DISPATCHED', attempt: 2, retryCount: 1 });
    feed.dispose();
    await executor.close();
  });

  it('ends a run cancelled before its executor acknowledged it, instead of dispatching it again', async () => {
    const {
      executor,
      taskIds: [taskId],
    } = await executorWithTasks([{}]);
    const feed = executor.assignments();
    const instanceId = await runTask(taskId!);
    await feed.atLeast(1);
    await admin.data(CancelTaskInstanceDocument, { id: instanceId });
    await feed.atLeast(2);
    expect(sent(feed.items)).toEqual([`${instanceId}@1`, `cancel ${instanceId}@1`]);
    // Nobody acknowledges or reports: after the 2 s timeout the run ends, at attempt 1.
    const socket = wsClient(server.anonymous.url, () => ({
      authorization: `Bearer ${admin.token}`,
    }));
    try {
      const outcome = await waitForStatus(
        admin,
        socket,
        instanceId,
        ['MANUAL_CANCELLATION'],
        10_000,
      );
      expect(outcome).toMatchObject({ status: 'MANUAL_CANCELLATION', attempt: 1 });
      expect(outcome.statusReason).toMatch(/before the executor acknowledged/);
    } finally {
      await socket.dispose();
      feed.dispose();
      await executor.close();
    }
  });
});
