import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelTaskInstanceDocument, RunTasksDocument } from '../../generated/graphql.js';
import {
  isInFlight,
  startCluster,
  statusCode,
  type Cluster,
  type ClusterExecutor,
} from './cluster.js';

const { SCHEDULED, RUNNING, FINISHED, MANUAL_CANCELLATION } = statusCode;

/**
 * More than the dispatcher claims per pass (1,000) and reads per queue window (2,000): a queue
 * head that cannot move.
 */
const longQueue = 2_205;

describe('the dispatch queue', () => {
  let cluster: Cluster;
  /** Capacity 1. */
  let small: ClusterExecutor;
  /** Capacity 4. */
  let large: ClusterExecutor;

  async function statusOf(id: string): Promise<number> {
    const [row] = await cluster.sql<{ status: number }>(
      'select status from task_instances where id = $1',
      [id],
    );
    return row!.status;
  }

  async function runningNow(id: string): Promise<void> {
    await cluster.until(`run ${id} to be RUNNING`, async () => (await statusOf(id)) === RUNNING);
  }

  async function finishes(id: string, timeoutMs: number): Promise<void> {
    await cluster.until(`run ${id} to end`, async () => !isInFlight(await statusOf(id)), timeoutMs);
    expect(await statusOf(id)).toBe(FINISHED);
  }

  /** `count` manual runs of a task, created in `runTasks` batches. */
  async function runMany(taskId: string, count: number): Promise<void> {
    for (let created = 0; created < count; created += 500) {
      const runs = Array.from({ length: Math.min(500, count - created) }, () => ({ taskId }));
      await cluster.admin.data(RunTasksDocument, { runs });
    }
  }

  /**
   * A task with `longQueue` runs waiting for the small executor, which its first run fills
   * (`sleep 30`): a queue head that cannot move. Returns the task's id.
   */
  async function queueForFullExecutor(): Promise<string> {
    const blocked = await cluster.createTask({
      command: 'sleep 30',
      bindingIds: [small.bindingId],
      maxParallelRuns: 1000,
      overlapPolicy: 'WAIT',
    });
    await runMany(blocked, longQueue);
    return blocked;
  }

  /**
   * Ends the task's runs: the queued ones first (test clean-up, straight in the database: there
   * are thousands, and they have nothing to stop), so that none is dispatched into the slot of a
   * cancelled running one; those are cancelled through the API, which stops their commands.
   */
  async function cancelAll(taskId: string): Promise<void> {
    await cluster.sql(
      `update task_instances set status = $2, finished_at = now(), updated_at = now()
        where task_id = $1 and status = $3`,
      [taskId, MANUAL_CANCELLATION, SCHEDULED],
    );
    const rows = await cluster.sql<{ id: string }>(
      `select id::text from task_instances where task_id = $1 and status in ($2, $3)`,
      [taskId, statusCode.DISPATCHED, RUNNING],
    );
    for (let i = 0; i < rows.length; i += 20) {
      await Promise.all(
        rows.slice(i, i + 20).map(async ({ id }) => {
          const { errors } = await cluster.admin.execute(CancelTaskInstanceDocument, { id });
          // A run may end between the read above and its cancel (CONFLICT: already ended).
          if (errors?.length && errors[0]?.extensions?.code !== 'CONFLICT') {
            throw new Error(`cannot cancel run ${id}: ${JSON.stringify(errors)}`);
          }
        }),
      );
    }
    // Ended, so no `sleep 30` outlives the test.
    await cluster.until(`the runs of task ${taskId} to end`, async () => {
      const [row] = await cluster.sql<{ n: number }>(
        'select count(*)::int as n from task_instances where task_id = $1 and status in ($2, $3, $4)',
        [taskId, SCHEDULED, statusCode.DISPATCHED, RUNNING],
      );
      return row!.n === 0;
    });
  }

  beforeAll(async () => {
    cluster = await startCluster();
    small = await cluster.addExecutor({ capacity: 1 });
    large = await cluster.addExecutor({ capacity: 4 });
    await cluster.waitOnline([small, large]);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('runs queued behind a busy executor (capacity 1) start highest priority first: 10, 5, 0', async () => {
    const bindingIds = [small.bindingId];
    const busyTask = await cluster.createTask({ command: 'sleep 30', bindingIds });
    const busy = await cluster.runTask(busyTask);
    await runningNow(busy);

    // Created in order 0, 5, 10: they wait, SCHEDULED, while the executor is full.
    const byPriority = new Map<string, number>();
    for (const priority of [0, 5, 10]) {
      const taskId = await cluster.createTask({ command: 'true', priority, bindingIds });
      byPriority.set(await cluster.runTask(taskId), priority);
    }
    const queued = [...byPriority.keys()];
    const waiting = await cluster.sql<{ status: number }>(
      'select status from task_instances where id = any($1::bigint[])',
      [queued],
    );
    expect(waiting.map((r) => r.status)).toEqual([SCHEDULED, SCHEDULED, SCHEDULED]);

    // The busy run ends (cancelled); the queue drains one at a time.
    await cluster.admin.data(CancelTaskInstanceDocument, { id: busy });
    const rows = await cluster.until('the three queued runs to end', async () => {
      const rows = await cluster.sql<{
        id: string;
        status: number;
        dispatched_at: Date;
        started_at: Date;
      }>(
        `select id::text, status, dispatched_at, started_at from task_instances
          where id = any($1::bigint[]) order by started_at`,
        [queued],
      );
      return rows.every((r) => !isInFlight(r.status)) && rows;
    });
    const [busyRow] = await cluster.sql<{ status: number }>(
      'select status from task_instances where id = $1',
      [busy],
    );
    expect(busyRow!.status).toBe(MANUAL_CANCELLATION);
    expect(rows.map((r) => r.status)).toEqual([FINISHED, FINISHED, FINISHED]);
    expect(rows.map((r) => byPriority.get(r.id))).toEqual([10, 5, 0]);
    const dispatchOrder = [...rows].sort(
      (x, y) => x.dispatched_at.getTime() - y.dispatched_at.getTime(),
    );
    expect(dispatchOrder.map((r) => byPriority.get(r.id))).toEqual([10, 5, 0]);
  });

  it(`a task at its maxParallelRuns with ${longQueue} queued runs does not hold up another task's run`, async () => {
    const bindingIds = [large.bindingId];
    const blocked = await cluster.createTask({
      command: 'sleep 30',
      bindingIds,
      maxParallelRuns: 1,
      overlapPolicy: 'WAIT',
    });
    await runMany(blocked, longQueue);
    const other = await cluster.runTask(await cluster.createTask({ command: 'true', bindingIds }));
    try {
      await finishes(other, 10_000);
    } finally {
      await cancelAll(blocked);
    }
  });

  it(`${longQueue} runs waiting for a full executor do not hold up a run bound to another`, async () => {
    const blocked = await queueForFullExecutor();
    const other = await cluster.runTask(
      await cluster.createTask({ command: 'true', bindingIds: [large.bindingId] }),
    );
    try {
      await finishes(other, 10_000);
    } finally {
      await cancelAll(blocked);
    }
  });

  it(`behind ${longQueue} runs waiting for a full executor, a BROADCAST run's share for another executor runs`, async () => {
    const blocked = await queueForFullExecutor();
    const broadcast = await cluster.createTask({
      command: 'true',
      routingStrategy: 'BROADCAST',
      bindingIds: [small.bindingId, large.bindingId],
    });
    await cluster.runTask(broadcast);
    const runsOf = (): Promise<{ executor: string; status: number }[]> =>
      cluster.sql<{ executor: string; status: number }>(
        `select broadcast_executor_id::text as executor, status from task_instances
          where task_id = $1 and broadcast_executor_id <> 0 order by broadcast_executor_id`,
        [broadcast],
      );
    try {
      // Fanned out to both; the share for the full executor waits behind the queue.
      const runs = await cluster.until(
        "the large executor's share to finish",
        async () => {
          const runs = await runsOf();
          return runs.some((run) => run.executor === large.id && run.status === FINISHED) && runs;
        },
        10_000,
      );
      expect(Object.fromEntries(runs.map((run) => [run.executor, run.status]))).toEqual({
        [small.id]: SCHEDULED,
        [large.id]: FINISHED,
      });
    } finally {
      await cancelAll(blocked);
      await cancelAll(broadcast);
    }
  });
});
