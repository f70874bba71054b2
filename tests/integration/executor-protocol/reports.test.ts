import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AcknowledgeAssignmentDocument,
  AppendTaskLogsDocument,
  CancelTaskInstanceDocument,
  ExecutorHeartbeatDocument,
  ReportTaskFinishedDocument,
  ReportTaskStartedDocument,
  TaskInstanceDocument,
  TaskInstanceLogsDocument,
  TaskLogAppendedDocument,
} from '../../generated/graphql.js';
import { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { record, wsClient } from '../../helpers/ws-client.js';
import { executorWithTask } from './fixtures.js';

describe('assignments and reports', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  const now = () => new Date().toISOString();

  it('assigns a run to the subscribed executor and records its whole life, idempotently', async () => {
    const { executor, run } = await executorWithTask(server, admin, { command: 'echo hello' });
    const feed = executor.assignments();
    const instanceId = await run();
    const [message] = await feed.atLeast(1);
    expect(message!.executorAssignments).toMatchObject({
      __typename: 'ExecutorAssignment',
      instanceId,
      attempt: 1,
      command: 'echo hello',
      kind: 'SHELL',
      startAt: null, // a manual run starts at once
    });

    await executor.data(AcknowledgeAssignmentDocument, { instanceId, attempt: 1 });
    const started = await executor.data(ReportTaskStartedDocument, {
      input: { instanceId, attempt: 1, startedAt: now() },
    });
    expect(started.reportTaskStarted.status).toBe('RUNNING');

    const chunks = [
      { seq: 0, stream: 'STDOUT' as const, content: 'hello\n', emittedAt: now() },
      { seq: 1, stream: 'STDERR' as const, content: 'warning\n', emittedAt: now() },
    ];
    expect(
      (await executor.data(AppendTaskLogsDocument, { input: { instanceId, attempt: 1, chunks } }))
        .appendTaskLogs,
    ).toEqual({ stored: 2, duplicates: 0 });
    expect(
      (await executor.data(AppendTaskLogsDocument, { input: { instanceId, attempt: 1, chunks } }))
        .appendTaskLogs,
    ).toEqual({ stored: 0, duplicates: 2 });

    const finish = {
      instanceId,
      attempt: 1,
      status: 'FINISHED' as const,
      exitCode: 0,
      finishedAt: now(),
      durationMs: 12,
      result: 'hello',
    };
    const finished = await executor.data(ReportTaskFinishedDocument, { input: finish });
    expect(finished.reportTaskFinished).toMatchObject({
      status: 'FINISHED',
      statusCode: 2,
      exitCode: 0,
      durationMs: 12,
    });
    const replayed = await executor.data(ReportTaskFinishedDocument, {
      input: { ...finish, status: 'ABNORMAL_ENDING', exitCode: 3 },
    });
    expect(replayed.reportTaskFinished).toMatchObject({ status: 'FINISHED', exitCode: 0 });
    const lateStart = await executor.data(ReportTaskStartedDocument, {
      input: { instanceId, attempt: 1, startedAt: now() },
    });
    expect(lateStart.reportTaskStarted.status).toBe('FINISHED');

    const { taskInstance } = await admin.data(TaskInstanceLogsDocument, { id: instanceId });
    expect(taskInstance.logs.nodes.map((l) => l.content)).toEqual(['hello\n', 'warning\n']);
    feed.dispose();
    await executor.close();
  });

  it('refuses a superseded attempt with CONFLICT and changes nothing', async () => {
    const { executor, run } = await executorWithTask(server, admin);
    const feed = executor.assignments();
    const instanceId = await run();
    await feed.atLeast(1);
    await executor.data(ReportTaskStartedDocument, {
      input: { instanceId, attempt: 1, startedAt: now() },
    });
    // A retry re-dispatched the run as attempt 2 (the scheduler's job; simulated here).
    await server.app.orm.em
      .fork()
      .getConnection()
      .execute('update task_instances set attempt = 2 where id = ?', [instanceId]);
    for (const result of [
      await executor.call(ReportTaskFinishedDocument, {
        input: { instanceId, attempt: 1, status: 'FINISHED', exitCode: 0, finishedAt: now() },
      }),
      await executor.call(AppendTaskLogsDocument, {
        input: {
          instanceId,
          attempt: 1,
          chunks: [{ seq: 0, stream: 'STDOUT', content: 'late', emittedAt: now() }],
        },
      }),
      await executor.call(AcknowledgeAssignmentDocument, { instanceId, attempt: 1 }),
    ]) {
      expect(result.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    }
    const { taskInstance } = await admin.data(TaskInstanceDocument, { id: instanceId });
    expect(taskInstance.status).toBe('RUNNING');
    feed.dispose();
    await executor.close();
  });

  it('refuses an oversized log chunk and keeps the others', async () => {
    const { executor, run } = await executorWithTask(server, admin);
    const feed = executor.assignments();
    const instanceId = await run();
    await feed.atLeast(1);
    const result = await executor.call(AppendTaskLogsDocument, {
      input: {
        instanceId,
        attempt: 1,
        chunks: [
          { seq: 0, stream: 'STDOUT', content: 'first\n', emittedAt: now() },
          { seq: 1, stream: 'STDOUT', content: 'x'.repeat(64 * 1024 + 1), emittedAt: now() },
          { seq: 2, stream: 'STDOUT', content: 'third\n', emittedAt: now() },
        ],
      },
    });
    expect(result.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.chunks[1]',
    });
    const { taskInstance } = await admin.data(TaskInstanceLogsDocument, { id: instanceId });
    expect(taskInstance.logs.nodes.map((l) => l.seq)).toEqual([0, 2]);
    feed.dispose();
    await executor.close();
  });

  it('refuses a finished report it cannot store, naming the field, and changes nothing', async () => {
    const { executor, run } = await executorWithTask(server, admin);
    const feed = executor.assignments();
    const instanceId = await run();
    await feed.atLeast(1);
    const report = { instanceId, attempt: 1, status: 'FINISHED' as const, finishedAt: now() };
    for (const [changes, field, message] of [
      [{ durationMs: -1 }, 'input.durationMs', /from 0 to 2147483647; got -1/],
      [{ exitCode: -1 }, 'input.exitCode', /exit code \(0 to 255\)/],
      [{ exitCode: 100_000 }, 'input.exitCode', /got 100000/],
      [{ result: 'nul\u0000byte' }, 'input.result', /NUL character/],
      [{ statusReason: 'x\ud800y' }, 'input.statusReason', /well-formed Unicode/],
      [{ finishedAt: '0000-01-01T00:00:00Z' }, 'input.finishedAt', /1970-01-01 to 9999-12-31/],
    ] as const) {
      const result = await executor.call(ReportTaskFinishedDocument, {
        input: { ...report, ...changes },
      });
      expect(result.errors?.[0]?.extensions, field).toMatchObject({
        code: 'BAD_USER_INPUT',
        field,
      });
      expect(result.errors?.[0]?.message).toMatch(message);
    }
    const { taskInstance } = await admin.data(TaskInstanceDocument, { id: instanceId });
    expect(taskInstance).toMatchObject({ status: 'DISPATCHED', exitCode: null });
    // A run killed by a signal has no exit code: null is fine.
    const { reportTaskFinished } = await executor.data(ReportTaskFinishedDocument, {
      input: { ...report, status: 'ABNORMAL_ENDING', exitCode: null, durationMs: 0 },
    });
    expect(reportTaskFinished).toMatchObject({ status: 'ABNORMAL_ENDING', exitCode: null });
    feed.dispose();
    await executor.close();
  });

  it('refuses a heartbeat load that is not a finite number of 0 or more', async () => {
    const { executor } = await executorWithTask(server, admin);
    const negative = await executor.call(ExecutorHeartbeatDocument, {
      input: { runningInstanceIds: [], load: -1 },
    });
    expect(negative.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.load',
    });
    // JSON cannot carry 1e400, but an inline literal can: graphql-js reads it as Infinity.
    const client = new GraphqlClient(server.anonymous.url, await executor.token());
    const infinite = await client.raw(
      'mutation { executorHeartbeat(input: { runningInstanceIds: [], load: 1e400 }) { serverTime } }',
    );
    expect(infinite.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.load',
    });
    const fine = await executor.call(ExecutorHeartbeatDocument, {
      input: { runningInstanceIds: [], load: 0.5 },
    });
    expect(fine.errors).toBeUndefined();
  });

  it('replays unacknowledged assignments on resubscribe, and not acknowledged ones', async () => {
    const { executor, run } = await executorWithTask(server, admin);
    const first = executor.assignments();
    const a = await run();
    const b = await run();
    await first.atLeast(2);
    await executor.data(AcknowledgeAssignmentDocument, { instanceId: a, attempt: 1 });
    first.dispose();
    await executor.close();
    const second = executor.assignments();
    const [replayed] = await second.atLeast(1);
    expect(replayed!.executorAssignments).toMatchObject({ instanceId: b });
    const c = await run();
    const items = await second.atLeast(2);
    expect(items.map((i) => (i.executorAssignments as { instanceId: string }).instanceId)).toEqual([
      b,
      c,
    ]);
    second.dispose();
    await executor.close();
  });

  it('streams a log backlog then live chunks, without gap or duplicate', async () => {
    const { executor, run } = await executorWithTask(server, admin);
    const feed = executor.assignments();
    const instanceId = await run();
    await feed.atLeast(1);
    const send = (seq: number) =>
      executor.data(AppendTaskLogsDocument, {
        input: {
          instanceId,
          attempt: 1,
          chunks: [{ seq, stream: 'STDOUT', content: `line ${seq}\n`, emittedAt: now() }],
        },
      });
    await send(0);
    await send(1);
    const token = (await server.asAdmin()).token!;
    const watcher = wsClient(server.anonymous.url, () => ({ authorization: `Bearer ${token}` }));
    const tail = record(watcher, TaskLogAppendedDocument, { instanceId });
    await tail.atLeast(2);
    await send(2);
    await send(1); // a replay: stored once
    await send(3);
    const items = await tail.atLeast(4);
    expect(items.map((i) => i.taskLogAppended.seq)).toEqual([0, 1, 2, 3]);
    tail.dispose();
    await watcher.dispose();
    feed.dispose();
    await executor.close();
  });

  it('cancels: a waiting run at once, a running one through the executor', async () => {
    const { executor, run } = await executorWithTask(server, admin);
    const waiting = await run(); // no executor subscribed yet: stays SCHEDULED (executor offline)
    expect(
      (await admin.data(CancelTaskInstanceDocument, { id: waiting })).cancelTaskInstance.status,
    ).toBe('MANUAL_CANCELLATION');
    expect(await admin.errorCode(CancelTaskInstanceDocument, { id: waiting })).toBe('CONFLICT');

    const feed = executor.assignments();
    const running = await run();
    await feed.atLeast(1);
    await executor.data(ReportTaskStartedDocument, {
      input: { instanceId: running, attempt: 1, startedAt: now() },
    });
    const { cancelTaskInstance } = await admin.data(CancelTaskInstanceDocument, { id: running });
    expect(cancelTaskInstance).toMatchObject({
      status: 'RUNNING',
      cancelRequestedAt: expect.any(String),
    });
    const items = await feed.atLeast(2);
    expect(items[1]!.executorAssignments).toMatchObject({
      __typename: 'ExecutorCancellation',
      instanceId: running,
      attempt: 1,
    });
    const heartbeat = await executor.data(ExecutorHeartbeatDocument, {
      input: { runningInstanceIds: [running] },
    });
    expect(heartbeat.executorHeartbeat.abandonedInstanceIds).toEqual([running]);
    await executor.data(ReportTaskFinishedDocument, {
      input: {
        instanceId: running,
        attempt: 1,
        status: 'MANUAL_CANCELLATION',
        exitCode: null,
        finishedAt: now(),
      },
    });
    expect((await admin.data(TaskInstanceDocument, { id: running })).taskInstance.status).toBe(
      'MANUAL_CANCELLATION',
    );
    feed.dispose();
    await executor.close();
  });
});
