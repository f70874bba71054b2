import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CancelTaskInstanceDocument,
  SchedulerRunTaskPlacementDocument,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import {
  adminClient,
  isInFlight,
  startCluster,
  statusCode,
  type Cluster,
  type ClusterExecutor,
} from './cluster.js';

const { FINISHED, RUNNING } = statusCode;

interface Interval {
  executor_id: number;
  task_id: number;
  dispatched_at: Date;
  finished_at: Date;
}

/** The most intervals (dispatched → finished: a slot held, as the server counts) at once. */
function mostAtOnce(intervals: readonly Interval[]): number {
  const events = intervals.flatMap((run) => [
    { at: run.dispatched_at.getTime(), step: 1 },
    { at: run.finished_at.getTime(), step: -1 },
  ]);
  // Ends before starts at the same instant: a slot freed and taken again in one millisecond.
  events.sort((x, y) => x.at - y.at || x.step - y.step);
  let now = 0;
  let most = 0;
  for (const event of events) {
    now += event.step;
    most = Math.max(most, now);
  }
  return most;
}

/**
 * runTask places a run on an executor with room in the statement that creates it, when nothing
 * waits in the queue: the dispatcher is not in the way. Two server replicas, two executors
 * connected one to each.
 */
describe('runs placed as runTask creates them', () => {
  let cluster: Cluster;
  /** Capacity 3, connected to the first replica. */
  let a: ClusterExecutor;
  /** Capacity 2, connected to the second replica. */
  let b: ClusterExecutor;
  let secondReplica: GraphqlClient;

  beforeAll(async () => {
    cluster = await startCluster({ replicas: 2 });
    a = await cluster.addExecutor({ capacity: 3 });
    b = await cluster.addExecutor({ capacity: 2, via: cluster.servers[1] });
    await cluster.waitOnline([a, b]);
    secondReplica = await adminClient(cluster.servers[1]!.url);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  function endedRuns(ids: readonly string[]) {
    return cluster.until(`${ids.length} runs to end`, async () => {
      const rows = await cluster.sql<Interval & { id: string; status: number }>(
        `select id::text, status, executor_id, task_id, dispatched_at, finished_at
           from task_instances where id = any($1::bigint[])`,
        [ids],
      );
      return rows.length === ids.length && rows.every((row) => !isInFlight(row.status)) && rows;
    });
  }

  it('comes back DISPATCHED to its executor and runs; its audit entry says where it went', async () => {
    const taskId = await cluster.createTask({
      command: 'true',
      routingStrategy: 'ROUND_ROBIN',
      maxParallelRuns: 2,
      overlapPolicy: 'WAIT',
    });
    // Through the first replica (each keeps its own turns); b is connected to the second, which
    // hears of its run from the first.
    const first = await cluster.admin.data(SchedulerRunTaskPlacementDocument, { id: taskId });
    const second = await cluster.admin.data(SchedulerRunTaskPlacementDocument, { id: taskId });
    const runs = [first.runTask, second.runTask];
    for (const run of runs) expect(run.status).toBe('DISPATCHED');
    // ROUND_ROBIN over the two, in binding order.
    expect(runs.map((run) => run.executorId)).toEqual([a.id, b.id]);

    const rows = await endedRuns(runs.map((run) => run.id));
    expect(rows.map((row) => row.status)).toEqual([FINISHED, FINISHED]);
    // The second run's audit changes were the first's, given to the statement: each still
    // names its own executor.
    const audits = await cluster.sql<{ entity_id: string; changes: Record<string, unknown> }>(
      `select entity_id, changes from audit_entries
        where action = 'runTask' and entity_id = any($1::text[]) order by id`,
      [runs.map((run) => run.id)],
    );
    expect(
      audits.map(({ entity_id, changes }) => [entity_id, changes.status, changes.executorId]),
    ).toEqual(
      runs.map((run) => [
        run.id,
        { before: null, after: 'DISPATCHED' },
        { before: null, after: Number(run.executorId) },
      ]),
    );
  });

  it('keeps executor capacity and maxParallelRuns exact under 40 runTask calls at once through both replicas', async () => {
    const limited = await cluster.createTask({
      command: 'sleep 0.3',
      routingStrategy: 'LEAST_LOADED',
      maxParallelRuns: 2,
      overlapPolicy: 'WAIT',
    });
    // Many tasks: runTask calls of one task wait for each other on its row lock.
    const open = await Promise.all(
      Array.from({ length: 8 }, () =>
        cluster.createTask({
          command: 'sleep 0.3',
          routingStrategy: 'LEAST_LOADED',
          maxParallelRuns: 100,
          overlapPolicy: 'WAIT',
        }),
      ),
    );
    const clients = [cluster.admin, secondReplica];
    const created = await Promise.all(
      Array.from({ length: 40 }, async (_, index) => {
        const { runTask } = await clients[index % 2]!.data(SchedulerRunTaskPlacementDocument, {
          id: index % 5 === 0 ? limited : open[index % 8]!,
        });
        return runTask;
      }),
    );
    const rows = await endedRuns(created.map((run) => run.id));
    expect(rows.every((row) => row.status === FINISHED)).toBe(true);

    expect(mostAtOnce(rows.filter((row) => row.executor_id === Number(a.id)))).toBeLessThanOrEqual(
      3,
    );
    expect(mostAtOnce(rows.filter((row) => row.executor_id === Number(b.id)))).toBeLessThanOrEqual(
      2,
    );
    expect(mostAtOnce(rows.filter((row) => row.task_id === Number(limited)))).toBeLessThanOrEqual(
      2,
    );
    // Both ways were taken: placed by runTask while there was room, then by the dispatcher.
    const statuses = created.map((run) => run.status);
    expect(statuses).toContain('DISPATCHED');
    expect(statuses).toContain('SCHEDULED');
  });

  it('is not placed while another run waits in the queue: it waits its turn, and runs', async () => {
    // b full with runs that last; then a run that can only go to b waits for it.
    const busyTask = await cluster.createTask({
      command: 'sleep 60',
      bindingIds: [b.bindingId],
      maxParallelRuns: 2,
      overlapPolicy: 'WAIT',
    });
    const busy = [await cluster.runTask(busyTask), await cluster.runTask(busyTask)];
    await cluster.until('b to run both busy runs', async () => {
      const [row] = await cluster.sql<{ n: number }>(
        `select count(*)::int as n from task_instances where id = any($1::bigint[]) and status = $2`,
        [busy, RUNNING],
      );
      return row!.n === 2;
    });
    const onlyB = await cluster.createTask({ command: 'true', bindingIds: [b.bindingId] });
    const { runTask: waiting } = await cluster.admin.data(SchedulerRunTaskPlacementDocument, {
      id: onlyB,
    });
    expect(waiting.status).toBe('SCHEDULED');

    // a has room, but a run waits ahead: this one is left to the dispatcher, which runs it.
    const onA = await cluster.createTask({ command: 'true', bindingIds: [a.bindingId] });
    const { runTask: behind } = await cluster.admin.data(SchedulerRunTaskPlacementDocument, {
      id: onA,
    });
    expect(behind.status).toBe('SCHEDULED');
    const [ranOnA] = await endedRuns([behind.id]);
    expect(ranOnA).toMatchObject({ status: FINISHED, executor_id: Number(a.id) });

    for (const id of busy) await cluster.admin.data(CancelTaskInstanceDocument, { id });
    const [ranOnB] = await endedRuns([waiting.id]);
    expect(ranOnB).toMatchObject({ status: FINISHED, executor_id: Number(b.id) });
  });

  it('LEAST_LOADED waits a moment for the least loaded executor another transaction holds, rather than load a busier one', async () => {
    // The runs cancelled by the test before end when their executor reports it: until then
    // they still load b, and "idle" below would not be.
    await cluster.until('every earlier run to end', async () => {
      const rows = await cluster.sql<{ status: number }>('select status from task_instances');
      return rows.every((row) => !isInFlight(row.status));
    });
    const taskId = await cluster.createTask({
      command: 'sleep 60',
      routingStrategy: 'LEAST_LOADED',
      maxParallelRuns: 4,
      overlapPolicy: 'WAIT',
    });
    const { runTask: first } = await cluster.admin.data(SchedulerRunTaskPlacementDocument, {
      id: taskId,
    });
    expect(first.status).toBe('DISPATCHED');
    const idle = first.executorId === a.id ? b : a;
    // Another transaction holds the idle executor's row, as the heartbeat flush does each second.
    const holder = new pg.Client({ connectionString: cluster.database.url });
    await holder.connect();
    let second: { id: string; status: string; executorId?: string | null } | undefined;
    try {
      await holder.query('begin');
      await holder.query('select 1 from executors where id = $1 for update', [idle.id]);
      const [{ pid }] = (await holder.query<{ pid: number }>('select pg_backend_pid() as pid'))
        .rows as [{ pid: number }];
      const placing = cluster.admin.data(SchedulerRunTaskPlacementDocument, { id: taskId });
      let placed = false;
      void placing.then(() => (placed = true)).catch(() => undefined);
      // No event says a statement waits for a lock: look until runTask's does (nothing else
      // waits for an executor's row: the heartbeat flush skips held ones), or it returned.
      for (;;) {
        const [row] = await cluster.sql<{ n: number }>(
          'select count(*)::int as n from pg_stat_activity where $1 = any(pg_blocking_pids(pid))',
          [pid],
        );
        if (row!.n > 0 || placed) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const placedAtOnce = placed ? JSON.stringify(await placing) : '';
      expect(placedAtOnce, `the idle executor was ${idle.id}`).toBe('');
      await holder.query('commit');
      second = (await placing).runTask;
    } finally {
      await holder.end();
    }
    expect(second).toMatchObject({ status: 'DISPATCHED', executorId: idle.id });

    for (const id of [first.id, second.id])
      await cluster.admin.data(CancelTaskInstanceDocument, { id });
    await endedRuns([first.id, second.id]);
  });
});
