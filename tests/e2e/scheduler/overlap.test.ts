import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isInFlight, startCluster, statusCode, type Cluster } from './cluster.js';

const { FINISHED, SKIPPED } = statusCode;

interface RunRow {
  id: string;
  scheduled_at: Date;
  status: number;
  status_reason: string | null;
  started_at: Date | null;
  finished_at: Date | null;
}

/** The task's rows once none is waiting or running (woken by each status change). */
async function settledRuns(cluster: Cluster, taskId: string, timeoutMs: number) {
  return cluster.until(
    `every run of task ${taskId} to end`,
    async () => {
      const rows = await cluster.sql<RunRow>(
        `select id::text, scheduled_at, status, status_reason, started_at, finished_at
           from task_instances where task_id = $1 order by scheduled_at`,
        [taskId],
      );
      const [task] = await cluster.sql<{ next_fire_at: Date | null }>(
        'select next_fire_at from tasks where id = $1',
        [taskId],
      );
      const settled = task!.next_fire_at === null && rows.every((r) => !isInFlight(r.status));
      return settled && rows;
    },
    timeoutMs,
  );
}

/** [started_at, finished_at] of the runs, in start order: each starts after the last ended. */
function expectOneAtATime(runs: RunRow[]): void {
  const intervals = runs
    .map((r) => [r.started_at!.getTime(), r.finished_at!.getTime()] as const)
    .sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < intervals.length; i++) {
    expect(intervals[i]![0]).toBeGreaterThanOrEqual(intervals[i - 1]![1]);
  }
}

describe('maxParallelRuns 1 with a run longer than the schedule period', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster();
    await cluster.waitOnline([await cluster.addExecutor({ capacity: 8 })]);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('overlapPolicy SKIP: never two runs at once; the fires in between are SKIPPED for overlap', async () => {
    // Fires every second for ~8 s (the active window ends the schedule); each run takes 3 s.
    const activeUntil = new Date(Date.now() + 8_000);
    const taskId = await cluster.createTask({
      command: 'sleep 3',
      cronExpression: '* * * * * *',
      maxParallelRuns: 1,
      overlapPolicy: 'SKIP',
      activeUntil: activeUntil.toISOString(),
    });
    const rows = await settledRuns(cluster, taskId, 20_000);
    const runs = rows.filter((r) => r.status !== SKIPPED);
    const skipped = rows.filter((r) => r.status === SKIPPED);
    console.log(
      `overlap SKIP: ${rows.length} fires, ${runs.length} runs, ${skipped.length} skipped`,
    );
    expect(rows.length).toBeGreaterThanOrEqual(7);
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs.length).toBeLessThanOrEqual(3);
    expect(runs.every((r) => r.status === FINISHED)).toBe(true);
    expectOneAtATime(runs);
    expect(skipped.length).toBe(rows.length - runs.length);
    for (const s of skipped) expect(s.status_reason).toMatch(/^overlap: /);
    // A fire is skipped only while a run is in flight (or its end is on its way to the server).
    for (const s of skipped) {
      const at = s.scheduled_at.getTime();
      const blocker = runs.find(
        (r) => r.scheduled_at.getTime() < at && at <= r.finished_at!.getTime() + 1_000,
      );
      expect(
        blocker,
        `fire ${s.scheduled_at.toISOString()} skipped with no run in flight`,
      ).toBeDefined();
    }
  }, 30_000);

  it('overlapPolicy WAIT: the fires queue and run one after another, in order', async () => {
    // Three fires in three seconds (frequency TIMES), each run taking 2 s.
    const taskId = await cluster.createTask({
      command: 'sleep 2',
      cronExpression: '* * * * * *',
      frequency: 'TIMES',
      frequencyTimes: 3,
      maxParallelRuns: 1,
      overlapPolicy: 'WAIT',
    });
    const rows = await settledRuns(cluster, taskId, 20_000);
    expect(rows.map((r) => r.status)).toEqual([FINISHED, FINISHED, FINISHED]);
    expectOneAtATime(rows);
    // In fire order, and the later ones waited: started well after their fire.
    const starts = rows.map((r) => r.started_at!.getTime());
    expect([...starts].sort((a, b) => a - b)).toEqual(starts);
    const waits = rows.map((r) => r.started_at!.getTime() - r.scheduled_at.getTime());
    console.log(`overlap WAIT: fire → start waits ${waits.join(', ')} ms`);
    // The 2nd fire waited for the 1st run (~1 s), the 3rd for the first two (~2 s).
    expect(waits[1]!).toBeGreaterThan(700);
    expect(waits[2]!).toBeGreaterThan(1_700);
  }, 30_000);
});
