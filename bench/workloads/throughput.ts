import { machineBusyMs } from '../support/process-stats.js';
import { transactionCount, type BenchPostgres } from '../support/postgres.js';
import { createBenchTask, runTasksInBatches } from '../support/tasks.js';
import { startGraphcronStack, status } from './graphcron-stack.js';

export interface ThroughputOptions {
  instances: number;
  /** Runs made first, untimed, through the same server and executors (JIT, pools and caches warm). */
  warmupInstances: number;
  executors: number;
  capacity: number;
  /** 'noop': executors in --dry-run (nothing executed); 'true': SHELL `true` is spawned. */
  variant: 'noop' | 'true';
  timeoutMs: number;
}

export interface ThroughputResult {
  instances: number;
  seconds: number;
  instancesPerSecond: number;
  /** How fast runTasks created the instances (they are dispatched while later ones are created). */
  createdPerSecond: number;
  databaseTransactionsPerSecond: number;
  /** CPU the server process used per second of the run, in cores. */
  serverCores: number;
  /** CPU the executor processes used together, in cores. */
  executorCores: number;
  /** CPU the whole machine was busy with (everything, the bench and PostgreSQL included), in cores. */
  machineBusyCores: number;
  notFinished: number;
  /** Where a run's time goes (medians): queued, dispatch → acknowledged/started, finished → stored. */
  medianPhasesMs: Record<string, number>;
}

/**
 * Workload 1: `instances` runs created through `runTasks` (1,000 per call), dispatched to the
 * executor processes, run and reported FINISHED; timed from the first call to the last
 * FINISHED report's commit.
 */
export async function graphcronThroughput(
  postgres: BenchPostgres,
  options: ThroughputOptions,
): Promise<ThroughputResult> {
  const stack = await startGraphcronStack(postgres, {
    label: `throughput_${options.variant}`,
    executors: options.executors,
    capacity: options.capacity,
    isDryRun: options.variant === 'noop',
  });
  try {
    const createTask = (name: string) =>
      createBenchTask(stack.graphql, { name, bindingIds: stack.bindingIds, command: 'true' });
    // Counted per task: the warm-up's runs stay in the table, as a running system's history does.
    const finished = async (taskId: string): Promise<number> =>
      Number(
        (
          await stack.db.rows<{ n: string }>(
            `select count(*) as n from task_instances where task_id = $1 and status = ${status.FINISHED}`,
            [taskId],
          )
        )[0]!.n,
      );
    // What the poll asks while runs go through: whether the task has a run not over yet, its
    // first in the small index of unfinished runs (the scan stops there). Counting them read the
    // whole backlog each time: ~6 ms of PostgreSQL per poll at 10 polls a second under a 20,000
    // run backlog (auto_explain), taken from the system measured; graphile-worker's poll counts
    // its shrinking jobs table. Sequential scans are off for the poll: with statistics from
    // before the burst the planner read the heap from its start (~15,000 finished rows a poll).
    const isAnyUnfinished = async (taskId: string): Promise<boolean> => {
      await stack.db.rows('set enable_seqscan = off');
      try {
        const rows = await stack.db.rows(
          `select 1 from task_instances
            where task_id = $1
              and status in (${status.SCHEDULED}, ${status.DISPATCHED}, ${status.RUNNING})
            limit 1`,
          [taskId],
        );
        return rows.length > 0;
      } finally {
        await stack.db.rows('reset enable_seqscan');
      }
    };
    if (options.warmupInstances > 0) {
      const warmupTaskId = await createTask('bench throughput warm-up');
      await runTasksInBatches(stack.graphql, [warmupTaskId], options.warmupInstances);
      await stack.db.waitFor(
        async () => !(await isAnyUnfinished(warmupTaskId)),
        options.timeoutMs,
        100,
      );
    }
    const taskId = await createTask('bench throughput');
    const transactionsBefore = await transactionCount(stack.databaseUrl);
    const cpuBefore = stack.serverCpuMs();
    const executorsCpuBefore = stack.executorsCpuMs();
    const machineBefore = machineBusyMs();
    const [{ now: startedAt }] = (await stack.db.rows<{ now: Date }>(
      'select clock_timestamp() as now',
    )) as [{ now: Date }];
    await runTasksInBatches(stack.graphql, [taskId], options.instances);
    const createdAt = Date.now();
    // Every run was created before the poll starts: none unfinished means all are over.
    await stack.db.waitFor(async () => !(await isAnyUnfinished(taskId)), options.timeoutMs, 100);
    const cpuMs = stack.serverCpuMs() - cpuBefore;
    const executorsCpuMs = stack.executorsCpuMs() - executorsCpuBefore;
    const machineMs = machineBusyMs() - machineBefore;
    const [{ last }] = (await stack.db.rows<{ last: Date }>(
      `select max(updated_at) as last from task_instances
        where task_id = $1 and status = ${status.FINISHED}`,
      [taskId],
    )) as [{ last: Date }];
    const seconds = (last.getTime() - startedAt.getTime()) / 1000;
    const done = await finished(taskId);
    const [phases] = (await stack.db.rows<Record<string, number>>(
      `select percentile_cont(0.5) within group (order by extract(epoch from acknowledged_at - dispatched_at) * 1000) as dispatch_to_ack_ms,
              percentile_cont(0.5) within group (order by extract(epoch from started_at - dispatched_at) * 1000) as dispatch_to_start_ms,
              percentile_cont(0.5) within group (order by extract(epoch from updated_at - finished_at) * 1000) as finish_to_commit_ms,
              percentile_cont(0.5) within group (order by extract(epoch from dispatched_at - created_at) * 1000) as queued_ms
         from task_instances where task_id = $1 and status = ${status.FINISHED}`,
      [taskId],
    )) as [Record<string, number>];
    // A backend reports its counters when it is idle a while or when it exits: count after the
    // server and executors have disconnected, as the graphile-worker baseline does.
    await stack.stopProcesses();
    const transactions = (await transactionCount(stack.databaseUrl)) - transactionsBefore;
    return {
      instances: options.instances,
      seconds: round(seconds, 2),
      instancesPerSecond: Math.round(done / seconds),
      createdPerSecond: Math.round(options.instances / ((createdAt - startedAt.getTime()) / 1000)),
      databaseTransactionsPerSecond: Math.round(transactions / seconds),
      serverCores: round(cpuMs / 1000 / seconds, 2),
      executorCores: round(executorsCpuMs / 1000 / seconds, 2),
      machineBusyCores: round(machineMs / 1000 / seconds, 2),
      notFinished: options.instances - done,
      medianPhasesMs: Object.fromEntries(
        Object.entries(phases).map(([name, value]) => [name, round(Number(value), 1)]),
      ),
    };
  } finally {
    await stack.stop();
  }
}

export function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
