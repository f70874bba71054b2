import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SubmitExecutorReportsDocument,
  ReportedRunDocument,
  TaskInstanceLogsDocument,
  type ExecutorReportBatchInput,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { TestExecutor } from '../../helpers/test-executor.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { executorWithTask } from './fixtures.js';

describe('submitExecutorReports: many reports in one call', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  const now = () => new Date().toISOString();
  const statusOf = async (id: string) =>
    (await admin.data(ReportedRunDocument, { id })).taskInstance;
  const logsOf = async (id: string) =>
    (await admin.data(TaskInstanceLogsDocument, { id })).taskInstance.logs.nodes.map(
      (log) => `${log.seq}:${log.content}`,
    );
  const lifeOf = (instanceId: string, attempt = 1): ExecutorReportBatchInput => ({
    acknowledged: [{ instanceId, attempt }],
    started: [{ instanceId, attempt, startedAt: new Date(Date.now() - 1_000).toISOString() }],
    logs: [
      {
        instanceId,
        attempt,
        chunks: [{ seq: 0, stream: 'STDOUT', content: `out of ${instanceId}\n`, emittedAt: now() }],
      },
    ],
    finished: [{ instanceId, attempt, status: 'FINISHED', exitCode: 0, finishedAt: now() }],
  });
  const merge = (...batches: ExecutorReportBatchInput[]): ExecutorReportBatchInput => ({
    acknowledged: batches.flatMap((b) => b.acknowledged ?? []),
    started: batches.flatMap((b) => b.started ?? []),
    logs: batches.flatMap((b) => b.logs ?? []),
    finished: batches.flatMap((b) => b.finished ?? []),
  });

  it('applies the whole life of several runs at once, and a replay changes nothing', async () => {
    const { executor, run } = await executorWithTask(server, admin);
    const feed = executor.assignments();
    const ids = [await run(), await run(), await run()];
    await feed.atLeast(3);
    const batch = merge(...ids.map((id) => lifeOf(id)));
    const { submitExecutorReports } = await executor.data(SubmitExecutorReportsDocument, {
      input: batch,
    });
    expect(submitExecutorReports).toEqual({
      refused: [],
      storedLogChunks: 3,
      duplicateLogChunks: 0,
    });
    for (const [index, id] of ids.entries()) {
      // The start is recorded with the finish it came with (one update of the run, not two).
      expect(await statusOf(id)).toMatchObject({
        status: 'FINISHED',
        exitCode: 0,
        attempt: 1,
        startedAt: new Date(batch.started![index]!.startedAt as string).toISOString(),
      });
      expect(await logsOf(id)).toEqual([`0:out of ${id}\n`]);
    }
    const finishedAt = (await statusOf(ids[0]!)).finishedAt;

    const replay = await executor.data(SubmitExecutorReportsDocument, { input: batch });
    expect(replay.submitExecutorReports).toEqual({
      refused: [],
      storedLogChunks: 0,
      duplicateLogChunks: 3,
    });
    expect((await statusOf(ids[0]!)).finishedAt).toBe(finishedAt);
    feed.dispose();
    await executor.close();
  });

  it('lists what it refuses and applies the rest', async () => {
    const { executor, run } = await executorWithTask(server, admin);
    const other = await executorWithTask(server, admin);
    const feed = executor.assignments();
    const otherFeed = other.executor.assignments();
    const mine = await run();
    const theirs = await other.run();
    await feed.atLeast(1);
    await otherFeed.atLeast(1);
    const { submitExecutorReports } = await executor.data(SubmitExecutorReportsDocument, {
      input: {
        started: [
          { instanceId: mine, attempt: 1, startedAt: now() },
          { instanceId: theirs, attempt: 1, startedAt: now() },
          { instanceId: '999999999', attempt: 1, startedAt: now() },
          { instanceId: 'not-an-id', attempt: 1, startedAt: now() },
        ],
        finished: [
          { instanceId: mine, attempt: 2, status: 'FINISHED', finishedAt: now() },
          { instanceId: mine, attempt: 1, status: 'RUNNING', finishedAt: now() },
        ],
      },
    });
    expect(
      submitExecutorReports.refused.map((r) => [r.kind, r.instanceId, r.attempt, r.code, r.field]),
    ).toEqual([
      ['STARTED', 'not-an-id', 1, 'BAD_USER_INPUT', 'input.started[3].instanceId'],
      ['FINISHED', mine, 1, 'BAD_USER_INPUT', 'input.finished[1].status'],
      ['STARTED', theirs, 1, 'CONFLICT', null],
      ['STARTED', '999999999', 1, 'NOT_FOUND', null],
      ['FINISHED', mine, 2, 'CONFLICT', null],
    ]);
    expect(submitExecutorReports.refused[2]!.message).toContain('assigned to another executor');
    expect(submitExecutorReports.refused[4]!.message).toContain('superseded by attempt 1');
    expect(await statusOf(mine)).toMatchObject({ status: 'RUNNING', attempt: 1 });
    expect(await statusOf(theirs)).toMatchObject({ status: 'DISPATCHED' });
    feed.dispose();
    otherFeed.dispose();
    await executor.close();
    await other.executor.close();
  });

  it('keeps the logs of a superseded attempt from the executor that ran it, and refuses its status', async () => {
    const { executor, run } = await executorWithTask(server, admin, { retryTimes: 1 });
    const feed = executor.assignments();
    const id = await run();
    await feed.atLeast(1);
    // Attempt 1 fails; the retry (attempt 2) is dispatched to the same executor.
    await executor.data(SubmitExecutorReportsDocument, {
      input: {
        acknowledged: [{ instanceId: id, attempt: 1 }],
        started: [{ instanceId: id, attempt: 1, startedAt: now() }],
        finished: [
          { instanceId: id, attempt: 1, status: 'ABNORMAL_ENDING', exitCode: 1, finishedAt: now() },
        ],
      },
    });
    await feed.atLeast(2);
    expect(await statusOf(id)).toMatchObject({ attempt: 2 });

    // Late output of attempt 1 (say, from the outbox after a reconnect) is kept.
    const late = await executor.data(SubmitExecutorReportsDocument, {
      input: {
        logs: [
          {
            instanceId: id,
            attempt: 1,
            chunks: [{ seq: 0, stream: 'STDERR', content: 'late line\n', emittedAt: now() }],
          },
        ],
        finished: [
          { instanceId: id, attempt: 1, status: 'FINISHED', exitCode: 0, finishedAt: now() },
        ],
      },
    });
    expect(late.submitExecutorReports.storedLogChunks).toBe(1);
    expect(late.submitExecutorReports.refused.map((r) => [r.kind, r.code])).toEqual([
      ['FINISHED', 'CONFLICT'],
    ]);
    const { taskInstance } = await admin.data(ReportedRunDocument, { id });
    expect(taskInstance.attempts.map((a) => [a.attempt, a.status])).toEqual([
      [1, 'ABNORMAL_ENDING'],
    ]);

    // Another executor cannot write into that attempt.
    const stranger = await TestExecutor.enroll(server, { name: `stranger-${Date.now()}` });
    const refused = await stranger.data(SubmitExecutorReportsDocument, {
      input: {
        logs: [
          {
            instanceId: id,
            attempt: 1,
            chunks: [{ seq: 1, stream: 'STDOUT', content: 'forged\n', emittedAt: now() }],
          },
        ],
      },
    });
    expect(refused.submitExecutorReports.refused.map((r) => r.code)).toEqual(['CONFLICT']);
    feed.dispose();
    await executor.close();
  });

  it('refuses, report by report, what it cannot store, and applies the rest', async () => {
    const { executor, run } = await executorWithTask(server, admin);
    const feed = executor.assignments();
    const good = await run();
    const bad = await run();
    await feed.atLeast(2);
    const finished = (changes: object) => ({
      instanceId: bad,
      attempt: 1,
      status: 'ABNORMAL_ENDING' as const,
      finishedAt: now(),
      ...changes,
    });
    const { submitExecutorReports } = await executor.data(SubmitExecutorReportsDocument, {
      input: {
        started: [
          { instanceId: good, attempt: 1, startedAt: now() },
          { instanceId: bad, attempt: 1, startedAt: '0000-01-01T00:00:00Z' },
        ],
        logs: [
          {
            instanceId: good,
            attempt: 1,
            chunks: [
              { seq: 0, stream: 'STDOUT', content: 'kept\n', emittedAt: now() },
              { seq: 1, stream: 'STDOUT', content: 'half \ud800 pair', emittedAt: now() },
              { seq: 2, stream: 'STDOUT', content: 'nul\u0000byte', emittedAt: now() },
              { seq: 3, stream: 'STDOUT', content: 'year 0', emittedAt: '0000-01-01T00:00:00Z' },
            ],
          },
        ],
        finished: [
          {
            instanceId: good,
            attempt: 1,
            status: 'FINISHED',
            exitCode: 0,
            durationMs: 5,
            finishedAt: now(),
            result: 'done \ud83d\ude00',
          },
          finished({ result: 'nul\u0000byte' }),
          finished({ statusReason: 'x\udc00y' }),
          finished({ durationMs: -1 }),
          finished({ exitCode: -1 }),
          finished({ exitCode: 600 }),
          finished({ finishedAt: '0000-01-01T00:00:00Z' }),
        ],
      },
    });
    expect(
      submitExecutorReports.refused.map((r) => [r.kind, r.instanceId, r.code, r.field]),
    ).toEqual([
      ['STARTED', bad, 'BAD_USER_INPUT', 'input.started[1].startedAt'],
      ['LOGS', good, 'BAD_USER_INPUT', 'input.logs[0].chunks[1]'],
      ['LOGS', good, 'BAD_USER_INPUT', 'input.logs[0].chunks[2]'],
      ['LOGS', good, 'BAD_USER_INPUT', 'input.logs[0].chunks[3]'],
      ['FINISHED', bad, 'BAD_USER_INPUT', 'input.finished[1].result'],
      ['FINISHED', bad, 'BAD_USER_INPUT', 'input.finished[2].statusReason'],
      ['FINISHED', bad, 'BAD_USER_INPUT', 'input.finished[3].durationMs'],
      ['FINISHED', bad, 'BAD_USER_INPUT', 'input.finished[4].exitCode'],
      ['FINISHED', bad, 'BAD_USER_INPUT', 'input.finished[5].exitCode'],
      ['FINISHED', bad, 'BAD_USER_INPUT', 'input.finished[6].finishedAt'],
    ]);
    const messages = submitExecutorReports.refused.map((r) => r.message);
    expect(messages[1]).toMatch(/well-formed Unicode/);
    expect(messages[2]).toMatch(/NUL character/);
    expect(messages[3]).toMatch(/1970-01-01 to 9999-12-31/);
    expect(messages[7]).toMatch(/exit code \(0 to 255\), an HTTP status \(100 to 599\) or null/);
    expect(submitExecutorReports.storedLogChunks).toBe(1);
    expect(await statusOf(good)).toMatchObject({ status: 'FINISHED', exitCode: 0 });
    expect(await logsOf(good)).toEqual(['0:kept\n']);
    expect(await statusOf(bad)).toMatchObject({ status: 'DISPATCHED', exitCode: null });
    feed.dispose();
    await executor.close();
  });

  it('refuses an oversized batch as a whole', async () => {
    const { executor } = await executorWithTask(server, admin);
    const acknowledged = Array.from({ length: 1001 }, () => ({ instanceId: '1', attempt: 1 }));
    const result = await executor.call(SubmitExecutorReportsDocument, { input: { acknowledged } });
    expect(result.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.acknowledged',
    });
  });
});
