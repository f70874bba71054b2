import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CancelTaskInstanceDocument,
  SchedulerRunHistoryDocument,
  type SchedulerRunHistoryQuery,
} from '../../generated/graphql.js';
import { elapse, isAlive, startCluster, type Cluster, type ClusterExecutor } from './cluster.js';

type Run = SchedulerRunHistoryQuery['taskInstance'];
type Status = Run['status'];

describe('retries, with real executor processes', () => {
  let cluster: Cluster;
  let first: ClusterExecutor;
  let second: ClusterExecutor;
  let scratch: string;

  /** The run (with its attempt history) once its status is one of `statuses`. */
  async function runReaching(id: string, statuses: Status[], timeoutMs = 20_000): Promise<Run> {
    return cluster.until(
      `run ${id} to be ${statuses.join('/')}`,
      async () => {
        const { taskInstance } = await cluster.admin.data(SchedulerRunHistoryDocument, { id });
        return statuses.includes(taskInstance.status) && taskInstance;
      },
      timeoutMs,
    );
  }

  beforeAll(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), 'graphcron-retries-'));
    cluster = await startCluster({ env: { GRAPHCRON_EXECUTOR_HEARTBEAT_TIMEOUT_SECONDS: '3' } });
    first = await cluster.addExecutor({ capacity: 8 });
    second = await cluster.addExecutor({ capacity: 8 });
    await cluster.waitOnline([first, second]);
  });
  afterAll(async () => {
    await cluster?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('`exit 1` with retryTimes 2: ABNORMAL_ENDING at attempt 3, attempts 1 and 2 in its history, started 1 s apart', async () => {
    const taskId = await cluster.createTask({
      command: 'exit 1',
      retryTimes: 2,
      retryIntervalSeconds: 1,
    });
    const run = await runReaching(await cluster.runTask(taskId), ['ABNORMAL_ENDING', 'FINISHED']);
    expect(run).toMatchObject({
      status: 'ABNORMAL_ENDING',
      attempt: 3,
      retryCount: 2,
      exitCode: 1,
    });
    expect(run.attempts.map((a) => [a.attempt, a.status, a.exitCode])).toEqual([
      [1, 'ABNORMAL_ENDING', 1],
      [2, 'ABNORMAL_ENDING', 1],
    ]);
    const starts = [...run.attempts.map((a) => a.startedAt), run.startedAt].map((t) =>
      Date.parse(t!),
    );
    console.log(`retry: attempt starts ${starts.map((t) => t - starts[0]!).join(', ')} ms`);
    for (let i = 1; i < starts.length; i++) {
      expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(1_000);
      // The interval plus dispatch and start latency (generous for a loaded CI box), and less
      // than the dispatcher's 1 s poll would add: the retry is woken by its own timer.
      expect(starts[i]! - starts[i - 1]!).toBeLessThan(1_750);
    }
  });

  it('a command that fails once then succeeds: FINISHED at attempt 2', async () => {
    const marker = path.join(scratch, 'tried-once');
    const taskId = await cluster.createTask({
      command: `test -f ${marker} || { touch ${marker}; exit 1; }`,
      retryTimes: 3,
      retryIntervalSeconds: 1,
    });
    const run = await runReaching(await cluster.runTask(taskId), ['ABNORMAL_ENDING', 'FINISHED']);
    expect(run).toMatchObject({ status: 'FINISHED', attempt: 2, exitCode: 0 });
    expect(run.attempts.map((a) => [a.attempt, a.status])).toEqual([[1, 'ABNORMAL_ENDING']]);
  });

  it('a cancelled run is not retried', async () => {
    const taskId = await cluster.createTask({
      command: 'sleep 30',
      retryTimes: 2,
      retryIntervalSeconds: 1,
    });
    const id = await cluster.runTask(taskId);
    await runReaching(id, ['RUNNING']);
    await cluster.admin.data(CancelTaskInstanceDocument, { id });
    const cancelled = await runReaching(id, ['MANUAL_CANCELLATION', 'SCHEDULED', 'FINISHED']);
    expect(cancelled).toMatchObject({ status: 'MANUAL_CANCELLATION', attempt: 1, attempts: [] });
    // No retry comes after the retry interval (1 s) either: time passing is what is tested.
    await elapse(2_000);
    const { taskInstance } = await cluster.admin.data(SchedulerRunHistoryDocument, { id });
    expect(taskInstance).toMatchObject({ status: 'MANUAL_CANCELLATION', attempt: 1, attempts: [] });
  });

  it('the executor is SIGKILLed mid-run (retryTimes 1): attempt 1 UNKNOWN, retried on the other executor, FINISHED', async () => {
    const marker = path.join(scratch, 'started-once');
    const pidFile = path.join(scratch, 'first-attempt.pid');
    const taskId = await cluster.createTask({
      // The first attempt hangs (its pid noted, to clean up); a second one ends at once.
      command: `test -f ${marker} && exit 0; touch ${marker}; echo $$ > ${pidFile}; exec sleep 30`,
      retryTimes: 1,
      retryIntervalSeconds: 0,
    });
    const id = await cluster.runTask(taskId);
    const running = await runReaching(id, ['RUNNING']);
    const victim = [first, second].find((e) => e.id === running.executorId)!;
    const survivor = victim === first ? second : first;
    await victim.process.stop('SIGKILL');
    try {
      const run = await runReaching(id, ['FINISHED', 'ABNORMAL_ENDING', 'UNKNOWN'], 15_000);
      expect(run).toMatchObject({ status: 'FINISHED', attempt: 2, executorId: survivor.id });
      expect(run.attempts).toEqual([
        expect.objectContaining({
          attempt: 1,
          status: 'UNKNOWN',
          executorId: victim.id,
          statusReason: expect.stringMatching(/stopped sending heartbeats/),
        }),
      ]);
    } finally {
      // The hung first attempt was orphaned by the SIGKILL: ours to clean up.
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0;
      if (pid > 0 && isAlive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
});
