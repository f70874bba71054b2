import type { BenchPostgres } from '../support/postgres.js';
import { summarizeLatency, type LatencySummary } from '../support/stats.js';
import { createBenchTasks } from '../support/tasks.js';
import { startGraphcronStack, status } from './graphcron-stack.js';

export interface CronPrecisionOptions {
  tasks: number;
  seconds: number;
  executors: number;
  capacity: number;
  /** How long before the first fire the tasks are created (they must all exist by then). */
  leadSeconds: number;
}

export interface CronPrecisionResult {
  tasks: number;
  seconds: number;
  expectedFires: number;
  /** Skew of each run's reported start against its scheduled second. */
  startSkew: LatencySummary;
  /** Skew of each run's creation (the fire, on the database clock) against its second. */
  fireSkewP99Ms: number;
  /** Skew of each run's dispatch (database clock) and acknowledgement against its second. */
  dispatchSkewP99Ms: number;
  acknowledgedSkewP99Ms: number;
  /** Starts more than 100 ms late, by second of the window (only seconds that had any). */
  lateStartsBySecond: Record<number, number>;
  /** Fires that did not run: recorded SKIPPED (the task's previous run was still in flight). */
  missedFires: number;
  /** Expected fires with no record at all (exactly-once: must be 0). */
  lostFires: number;
  duplicateFires: number;
  notStarted: number;
}

/**
 * Workload 3: `tasks` tasks firing every second (`* * * * * *`), active for exactly `seconds`
 * seconds from a whole second, on dry-running executors.
 */
export async function graphcronCronPrecision(
  postgres: BenchPostgres,
  options: CronPrecisionOptions,
): Promise<CronPrecisionResult> {
  const stack = await startGraphcronStack(postgres, {
    label: 'cron',
    executors: options.executors,
    capacity: options.capacity,
    isDryRun: true,
  });
  try {
    const firstFire = Math.ceil(Date.now() / 1000) * 1000 + options.leadSeconds * 1000;
    const lastFire = firstFire + (options.seconds - 1) * 1000;
    await createBenchTasks(
      stack.graphql,
      Array.from({ length: options.tasks }, (_, index) => ({
        name: `bench cron ${index + 1}`,
        bindingIds: stack.bindingIds,
        cronExpression: '* * * * * *',
        timeZone: 'UTC',
        activeFrom: new Date(firstFire).toISOString(),
        activeUntil: new Date(lastFire + 500).toISOString(),
        maxParallelRuns: 1,
        overlapPolicy: 'SKIP',
        routingStrategy: 'ROUND_ROBIN',
      })),
    );
    if (Date.now() > firstFire - 500) {
      throw new Error(
        `creating ${options.tasks} tasks took longer than the ${options.leadSeconds} s lead; raise BENCH_CRON_LEAD_SECONDS`,
      );
    }
    const expectedFires = options.tasks * options.seconds;
    const started = async (): Promise<number> =>
      Number(
        (
          await stack.db.rows<{ n: string }>(
            `select count(*) as n from task_instances where scheduled_at is not null and started_at is not null`,
          )
        )[0]!.n,
      );
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, lastFire - Date.now())));
    await stack.db.waitFor(async () => (await started()) >= expectedFires, 30_000, 250);
    const rows = await stack.db.rows<{
      task_id: number;
      scheduled_at: Date;
      created_at: Date;
      started_at: Date | null;
      dispatched_at: Date | null;
      acknowledged_at: Date | null;
      status: number;
    }>(
      `select task_id, scheduled_at, created_at, started_at, dispatched_at, acknowledged_at, status
         from task_instances where scheduled_at is not null`,
    );
    const fires = new Set(rows.map((row) => `${row.task_id}@${row.scheduled_at.getTime()}`));
    const ran = rows.filter((row) => row.started_at !== null && row.status !== status.SKIPPED);
    const outOfWindow = rows.filter(
      (row) => row.scheduled_at.getTime() < firstFire || row.scheduled_at.getTime() > lastFire,
    ).length;
    if (outOfWindow > 0) throw new Error(`${outOfWindow} fires outside the active window`);
    const fireSkew = summarizeLatency(
      rows.map((row) => row.created_at.getTime() - row.scheduled_at.getTime()),
    );
    return {
      tasks: options.tasks,
      seconds: options.seconds,
      expectedFires,
      startSkew: summarizeLatency(
        ran.map((row) => row.started_at!.getTime() - row.scheduled_at.getTime()),
      ),
      fireSkewP99Ms: fireSkew.p99Ms,
      dispatchSkewP99Ms: skewP99(ran, (row) => row.dispatched_at),
      acknowledgedSkewP99Ms: skewP99(ran, (row) => row.acknowledged_at),
      lateStartsBySecond: lateBySecond(ran, firstFire),
      missedFires:
        expectedFires -
        new Set(ran.map((row) => `${row.task_id}@${row.scheduled_at.getTime()}`)).size,
      lostFires: expectedFires - fires.size,
      duplicateFires: rows.length - fires.size,
      notStarted: rows.length - ran.length,
    };
  } finally {
    await stack.stop();
  }
}

type FireTimes = { scheduled_at: Date; started_at: Date | null };

function skewP99<R extends FireTimes>(rows: readonly R[], at: (row: R) => Date | null): number {
  return summarizeLatency(
    rows.flatMap((row) => {
      const time = at(row);
      return time ? [time.getTime() - row.scheduled_at.getTime()] : [];
    }),
  ).p99Ms;
}

function lateBySecond(rows: readonly FireTimes[], firstFire: number): Record<number, number> {
  const late: Record<number, number> = {};
  for (const row of rows) {
    if (!row.started_at || row.started_at.getTime() - row.scheduled_at.getTime() <= 100) continue;
    const second = Math.round((row.scheduled_at.getTime() - firstFire) / 1000);
    late[second] = (late[second] ?? 0) + 1;
  }
  return late;
}
