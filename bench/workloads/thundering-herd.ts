import type { BenchPostgres } from '../support/postgres.js';
import { summarizeLatency, type LatencySummary } from '../support/stats.js';
import { createBenchTasks } from '../support/tasks.js';
import { startGraphcronStack, status } from './graphcron-stack.js';

export interface ThunderingHerdOptions {
  tasks: number;
  executors: number;
  capacity: number;
  leadSeconds: number;
}

export interface ThunderingHerdResult {
  tasks: number;
  /** From the scheduled second until every run had started (executors' reports). */
  allStartedSeconds: number;
  /** From the scheduled second until every fire was created (database clock). */
  allFiredSeconds: number;
  startSkew: LatencySummary;
  started: number;
  /** Fires recorded past the misfire threshold (GRAPHCRON_MISFIRE_THRESHOLD_SECONDS): SKIPPED. */
  skippedAsMisfires: number;
  /** How fast the tasks were created through createTask (8 at a time). */
  tasksCreatedPerSecond: number;
}

/** Workload 4: `tasks` tasks whose only fire of the day is the same second. */
export async function graphcronThunderingHerd(
  postgres: BenchPostgres,
  options: ThunderingHerdOptions,
): Promise<ThunderingHerdResult> {
  const stack = await startGraphcronStack(postgres, {
    label: 'herd',
    executors: options.executors,
    capacity: options.capacity,
    isDryRun: true,
  });
  try {
    const fireAt = new Date(Math.ceil(Date.now() / 1000) * 1000 + options.leadSeconds * 1000);
    const cron = `${fireAt.getUTCSeconds()} ${fireAt.getUTCMinutes()} ${fireAt.getUTCHours()} * * *`;
    const creationStarted = Date.now();
    await createBenchTasks(
      stack.graphql,
      Array.from({ length: options.tasks }, (_, index) => ({
        name: `bench herd ${index + 1}`,
        bindingIds: stack.bindingIds,
        cronExpression: cron,
        timeZone: 'UTC',
        maxParallelRuns: 1,
        routingStrategy: 'ROUND_ROBIN',
      })),
    );
    const tasksCreatedPerSecond = Math.round(
      options.tasks / ((Date.now() - creationStarted) / 1000),
    );
    if (Date.now() > fireAt.getTime() - 500) {
      throw new Error(
        `creating ${options.tasks} tasks took longer than the ${options.leadSeconds} s lead; raise BENCH_HERD_LEAD_SECONDS`,
      );
    }
    const startedCount = async (): Promise<number> =>
      Number(
        (
          await stack.db.rows<{ n: string }>(
            // A fire recorded past the misfire threshold is SKIPPED: it never starts.
            `select count(*) as n from task_instances where started_at is not null or status = ${status.SKIPPED}`,
          )
        )[0]!.n,
      );
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, fireAt.getTime() - Date.now())));
    await stack.db.waitFor(async () => (await startedCount()) >= options.tasks, 120_000, 100);
    const rows = await stack.db.rows<{
      created_at: Date;
      started_at: Date | null;
      scheduled_at: Date;
      status: number;
    }>(`select created_at, started_at, scheduled_at, status from task_instances`);
    const wrongSecond = rows.filter(
      (row) => row.scheduled_at.getTime() !== fireAt.getTime(),
    ).length;
    if (wrongSecond > 0) throw new Error(`${wrongSecond} fires not at the herd's second`);
    const started = rows.filter((row) => row.started_at !== null);
    const skews = started.map((row) => row.started_at!.getTime() - fireAt.getTime());
    return {
      tasks: options.tasks,
      allStartedSeconds: Math.round(Math.max(...skews)) / 1000,
      allFiredSeconds:
        Math.round(Math.max(...rows.map((row) => row.created_at.getTime() - fireAt.getTime()))) /
        1000,
      startSkew: summarizeLatency(skews),
      started: started.length,
      skippedAsMisfires: rows.filter((row) => row.status === status.SKIPPED).length,
      tasksCreatedPerSecond,
    };
  } finally {
    await stack.stop();
  }
}
