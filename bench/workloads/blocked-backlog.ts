import type { BenchPostgres } from '../support/postgres.js';
import { createBenchTask, createBenchTasks, runTasksInBatches } from '../support/tasks.js';
import { startGraphcronStack, status } from './graphcron-stack.js';
import { measureRate, warmUp, type LatencyOptions, type LatencyResult } from './latency.js';

export interface BlockedBacklogOptions {
  /** Runs queued for a task whose only executor is offline. */
  backlog: number;
  ratePerSecond: number;
  durationSeconds: number;
  executors: number;
  capacity: number;
  tasks: number;
  warmup: LatencyOptions['warmup'];
}

export interface BlockedBacklogResult {
  backlog: number;
  /** Other tasks' runs at the same rate, before the backlog was queued. */
  withoutBacklog: LatencyResult;
  /** The same, with the backlog waiting (it stays SCHEDULED throughout). */
  withBacklog: LatencyResult;
}

/**
 * A queue that cannot be dispatched must not slow the runs that can: `backlog` runs of a task
 * bound only to an executor that went offline wait in the queue while other tasks' runs are
 * made at a steady rate, timed as in the latency workload, once before the backlog is queued
 * and once with it. An executor group offline for a while builds such a queue in production.
 */
export async function graphcronBlockedBacklog(
  postgres: BenchPostgres,
  options: BlockedBacklogOptions,
): Promise<BlockedBacklogResult> {
  const stack = await startGraphcronStack(postgres, {
    label: 'backlog',
    executors: options.executors + 1,
    capacity: options.capacity,
    isDryRun: true,
  });
  try {
    const offline = stack.executors.at(-1)!;
    await offline.process.stop('SIGTERM');
    const isOffline = await stack.db.waitFor(
      async () =>
        (
          await stack.db.rows<{ is_online: boolean }>(
            'select is_online from executors where id = $1',
            [offline.id],
          )
        )[0]?.is_online === false,
      30_000,
    );
    if (!isOffline) throw new Error(`executor ${offline.id} still online after it stopped`);
    const online = stack.executors.slice(0, -1);
    const taskIds = await createBenchTasks(
      stack.graphql,
      Array.from({ length: options.tasks }, (_, index) => ({
        name: `bench backlog other ${index + 1}`,
        bindingIds: online.map((executor) => executor.bindingId),
        routingStrategy: 'LEAST_LOADED',
      })),
    );
    const blockedTaskId = await createBenchTask(stack.graphql, {
      name: 'bench backlog blocked',
      bindingIds: [offline.bindingId],
    });
    await warmUp(stack, taskIds, options.warmup);
    const measure = (): Promise<LatencyResult> =>
      measureRate(stack, taskIds, options.ratePerSecond, options.durationSeconds);
    const withoutBacklog = await measure();
    await runTasksInBatches(stack.graphql, [blockedTaskId], options.backlog);
    const withBacklog = await measure();
    const { waiting } = (
      await stack.db.rows<{ waiting: string }>(
        `select count(*) as waiting from task_instances where task_id = $1 and status = ${status.SCHEDULED}`,
        [blockedTaskId],
      )
    )[0]!;
    if (Number(waiting) !== options.backlog) {
      throw new Error(`${waiting} of the ${options.backlog} blocked runs still wait`);
    }
    return { backlog: options.backlog, withoutBacklog, withBacklog };
  } finally {
    await stack.stop();
  }
}
