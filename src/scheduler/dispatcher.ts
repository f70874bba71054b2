import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { query } from '../database/sql.js';
import { channels } from '../pubsub/channels.js';
import type { NotificationBus } from '../pubsub/notification-bus.js';
import type { Logger } from '../shared/logger.js';
import type { SnowflakeGenerator } from '../shared/snowflake.js';
import { TaskInstanceStatus } from '../task-instances/task-instance-status.js';
import { RoutingStrategy } from '../tasks/routing-strategy.js';
import { pickExecutor, type Candidate } from './routing.js';
import { pendingColumns, type AddressedRow } from '../executor-protocol/pending-message.js';

const { SCHEDULED, DISPATCHED, RUNNING } = TaskInstanceStatus;

export interface DispatcherOptions {
  /** The backstop: how often to look for waiting runs without being nudged. */
  pollIntervalMs: number;
  /** Runs claimed per transaction. */
  batchSize: number;
}

interface WaitingRow {
  id: string;
  task_id: number;
  broadcast_executor_id: number;
  routing_strategy: RoutingStrategy;
  max_parallel_runs: number;
}

/** A claimed run (columns null when none was), with where the queue window ended. */
type ClaimRow = { [K in keyof WaitingRow]: WaitingRow[K] | null } & {
  scanned: number;
  last_priority: number | null;
  last_id: string | null;
  next_due_ms: number | null;
};

/** What a pass did, and when the next run held back by `available_at` comes due (ms, or null). */
interface PassResult {
  claimed: number;
  dispatched: number;
  nextDueMs: number | null;
}

/** Where assignments go once committed (the streams of the executors connected here). */
export interface AssignmentSink {
  /** Returns the executors it has no stream for. */
  deliver(rows: readonly AddressedRow[]): Set<number>;
}

/** Waiting runs looked at per statement, in queue order. */
const queueWindowSize = 2_000;

interface CandidateRow {
  task_id: number;
  executor_id: number;
  binding_id: number;
  weight: number;
  capacity: number;
  name: string;
  host: string;
}

/**
 * Turns SCHEDULED runs into DISPATCHED ones, highest priority first, then oldest: claims a
 * batch with SKIP LOCKED (replicas share the work), serialises per task and per executor with
 * locks taken in a fixed order (so `maxParallelRuns` and executor capacity hold exactly across
 * replicas), picks executors by the task's routing strategy, and once committed publishes each
 * executor's channel once. Runs with no executor free stay SCHEDULED.
 */
export class Dispatcher {
  private running: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  /** One-shot: the next run held back by `available_at` (a retry's delay) comes due. */
  private dueTimer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  /** ROUND_ROBIN positions per task. Losing them on restart only changes who is next. */
  private readonly turns = new Map<number, number>();

  constructor(
    private readonly orm: MikroORM,
    private readonly bus: NotificationBus,
    private readonly ids: SnowflakeGenerator,
    private readonly logger: Logger,
    private readonly sink: AssignmentSink,
    // A second's worth of cron fires in one pass where possible: each pass costs round trips
    // that take milliseconds under load (batches of 200 started the last of 1,000 fires due
    // the same second ~150 ms after the first).
    private readonly options: DispatcherOptions = { pollIntervalMs: 1_000, batchSize: 1_000 },
  ) {}

  start(): void {
    this.unsubscribe = this.bus.on(channels.dispatch, () => this.nudge());
    this.timer = setInterval(() => this.nudge(), this.options.pollIntervalMs);
    this.timer.unref();
    this.nudge();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.timer = null;
    await this.running;
  }

  /** Runs a pass now, or right after the current one. */
  nudge(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = null;
    });
  }

  private async loop(): Promise<void> {
    let nextDueMs: number | null = null;
    do {
      this.again = false;
      try {
        const pass = await this.dispatchBatch();
        nextDueMs = pass.nextDueMs;
        // A full batch that made progress: there may be more. (Without progress, wait.)
        if (pass.claimed >= this.options.batchSize && pass.dispatched > 0) this.again = true;
      } catch (error) {
        nextDueMs = null; // the poll finds delayed runs
        this.logger.error('dispatch pass failed', { error });
      }
    } while (this.again && this.timer);
    this.wakeWhenNextDue(nextDueMs);
  }

  /**
   * Runs delayed by `available_at` (retries) get no NOTIFY when their delay ends: without this
   * timer only the next poll finds them, and an e2e test saw a 1 s retry interval become ~2 s
   * between attempts. The wait is measured on the database clock, by the pass's claim.
   */
  private wakeWhenNextDue(waitMs: number | null): void {
    if (waitMs === null || !this.timer) return;
    if (this.dueTimer) clearTimeout(this.dueTimer);
    const delayMs = Math.max(0, Math.min(Math.ceil(waitMs), 60_000));
    this.dueTimer = setTimeout(() => {
      this.dueTimer = null;
      this.nudge();
    }, delayMs);
    this.dueTimer.unref();
  }

  /** One transaction: how many waiting runs it looked at, and how many it dispatched. */
  async dispatchBatch(): Promise<PassResult> {
    const assigned: AddressedRow[] = [];
    const result = await this.orm.em.fork().transactional(async (em) => {
      const { waiting, nextDueMs } = await this.claimWaiting(em);
      if (waiting.length === 0) return { claimed: 0, dispatched: 0, nextDueMs };
      const taskIds = [...new Set(waiting.map((w) => w.task_id))].sort((a, b) => a - b);
      await this.lockTasksAndExecutors(em, taskIds);
      const { candidates, activeByTask } = await this.candidates(em, taskIds);
      const assignments: { id: string; executor: CandidateRow }[] = [];
      for (const run of waiting) {
        let options = candidates.byTask.get(run.task_id) ?? [];
        if (run.routing_strategy === RoutingStrategy.BROADCAST) {
          if (run.broadcast_executor_id === 0) {
            await this.fanOut(em, run, options);
            continue; // dispatched, pinned, on the next pass
          }
          options = options.filter((c) => c.executorId === run.broadcast_executor_id);
        } else if ((activeByTask.get(run.task_id) ?? 0) >= run.max_parallel_runs) {
          continue; // waits for a run of its task to end
        }
        const turn = this.turns.get(run.task_id) ?? 0;
        const chosen = pickExecutor(run.routing_strategy, options, turn);
        if (!chosen) continue;
        this.turns.set(run.task_id, turn + 1);
        for (const c of candidates.byExecutor.get(chosen.executorId) ?? []) c.active++;
        activeByTask.set(run.task_id, (activeByTask.get(run.task_id) ?? 0) + 1);
        assignments.push({ id: run.id, executor: candidates.rows.get(chosen.executorId)! });
      }
      if (assignments.length > 0) assigned.push(...(await this.assign(em, assignments)));
      return { claimed: waiting.length, dispatched: assignments.length, nextDueMs };
    });
    // Committed: the streams connected here send them now; the others read them.
    const elsewhere = this.sink.deliver(assigned);
    for (const executorId of new Set(assigned.map((row) => row.executor_id))) {
      if (elsewhere.has(executorId)) this.bus.publish(channels.assignments, String(executorId));
      else this.bus.publishElsewhere(channels.assignments, String(executorId));
    }
    for (const row of assigned) this.bus.publish(channels.instances, row.id);
    return result;
  }

  /**
   * Claims (locks) up to a batch of waiting runs that can be dispatched now, in queue order.
   *
   * Runs that cannot be dispatched now are not claimed: their task is at maxParallelRuns, or no
   * online executor they may go to has room. Otherwise a long queue of them (more than a batch)
   * fills every batch at the head of the order, and the runs behind it starve: an e2e test saw a
   * run of an idle task wait forever behind 205 queued runs of a task with maxParallelRuns 1, and
   * behind 205 runs bound to a full executor. The counts here are a pre-filter taken without
   * locks; the exact ones are taken under the locks, in dispatchBatch.
   *
   * The queue is read in windows of its index order, so a pass costs the same whether 200 or
   * 100,000 runs wait (sorting the whole queue took ~150 ms at 20,000 and serialised dispatch).
   */
  private async claimWaiting(
    em: EntityManager,
  ): Promise<{ waiting: WaitingRow[]; nextDueMs: number | null }> {
    const claimed: WaitingRow[] = [];
    let nextDueMs: number | null = null;
    let after: { priority: number; id: string } | null = null;
    for (;;) {
      const rows: ClaimRow[] = await query<ClaimRow>(
        em,
        `with active as materialized (
           select task_id, executor_id from task_instances where status in (${DISPATCHED}, ${RUNNING})),
         task_load as materialized (
           select task_id, count(*)::int as active from active group by task_id),
         executor_room as materialized (
           select e.id from executors e
            where e.is_enabled and e.is_online
              and e.capacity > (select count(*) from active a where a.executor_id = e.id)),
         queue_window as materialized (
           select id, priority, task_id from task_instances
            where status = ${SCHEDULED}
              and ($3::int is null or priority < $3 or (priority = $3 and id > $4::bigint))
              -- evaluated once, first: with no executor room and no BROADCAST task (whose
              -- runs not yet fanned out need no room), the queue is not read at all
              and (exists (select 1 from executor_room)
                   or exists (select 1 from tasks where routing_strategy = $5))
            order by priority desc, id
            limit $2),
         -- per task of the window, not per run: a window is often many runs of few tasks
         window_tasks as materialized (
           select w.task_id,
                  exists (select 1 from task_bindings tb
                            join executor_bindings eb on eb.id = tb.binding_id
                            join executor_room r on r.id = eb.executor_id
                           where tb.task_id = w.task_id) as has_room,
                  exists (select 1 from task_bindings tb
                            join executor_bindings eb on eb.id = tb.binding_id
                            join executors e on e.id = eb.executor_id
                           where tb.task_id = w.task_id and e.is_enabled and e.is_online) as is_reachable
             from (select distinct task_id from queue_window) w),
         claimed as (
           select i.id, i.task_id, i.broadcast_executor_id, t.routing_strategy, t.max_parallel_runs
             from task_instances i
             join tasks t on t.id = i.task_id
             join window_tasks wt on wt.task_id = i.task_id
             left join task_load tl on tl.task_id = i.task_id
            -- by primary key (an array, so it is not planned as a scan of the whole table)
            where i.id = any((select array_agg(id) from queue_window)::bigint[])
              and i.status = ${SCHEDULED} and (i.available_at is null or i.available_at <= now())
              and (t.routing_strategy = $5 or coalesce(tl.active, 0) < t.max_parallel_runs)
              and case
                    -- fanned out: waits for its own executor to have room
                    when i.broadcast_executor_id <> 0
                      then i.broadcast_executor_id in (select id from executor_room)
                    -- not yet fanned out: needs no room, only executors
                    when t.routing_strategy = $5 then wt.is_reachable
                    else wt.has_room
                  end
            order by i.priority desc, i.id
            for update of i skip locked
            limit $1),
         window_end as (
           select count(*)::int as scanned,
                  (array_agg(priority order by priority, id desc))[1] as last_priority,
                  (array_agg(id order by priority, id desc))[1]::text as last_id,
                  -- the next run held back by a retry delay (wakeWhenNextDue): in this
                  -- statement, not a round trip of its own after every pass
                  (select extract(epoch from min(available_at) - clock_timestamp()) * 1000
                     from task_instances
                    where status = ${SCHEDULED} and available_at > now()) as next_due_ms
             from queue_window)
         select c.*, e.scanned, e.last_priority, e.last_id, e.next_due_ms
           from window_end e left join claimed c on true`,
        [
          this.options.batchSize - claimed.length,
          queueWindowSize,
          after?.priority ?? null,
          after?.id ?? null,
          RoutingStrategy.BROADCAST,
        ],
      );
      const end = rows[0];
      if (after === null && end?.next_due_ms !== null && end?.next_due_ms !== undefined) {
        nextDueMs = Number(end.next_due_ms);
      }
      for (const row of rows) if (row.id !== null) claimed.push(row as WaitingRow);
      if (!end || end.scanned < queueWindowSize || end.last_id === null) break;
      if (claimed.length >= this.options.batchSize) break;
      after = { priority: end.last_priority!, id: end.last_id };
    }
    return { waiting: claimed, nextDueMs };
  }

  /**
   * A BROADCAST run becomes one run per eligible executor: this one is pinned to the first,
   * copies are made for the others (the unique fire key makes a repeat a no-op).
   */
  private async fanOut(em: EntityManager, run: WaitingRow, options: Candidate[]): Promise<void> {
    const executorIds = [...new Set(options.map((c) => c.executorId))].sort((a, b) => a - b);
    if (executorIds.length === 0) return;
    const [first, ...others] = executorIds;
    await query(
      em,
      `insert into task_instances
       select (jsonb_populate_record(null::task_instances,
                 to_jsonb(t) || jsonb_build_object('id', c.id, 'broadcast_executor_id', c.executor_id))).*
         from task_instances t, unnest($2::bigint[], $3::int[]) as c(id, executor_id)
        where t.id = $1
       on conflict do nothing`,
      [run.id, others.map(() => this.ids.next()), others],
    );
    await query(em, `update task_instances set broadcast_executor_id = $2 where id = $1;`, [
      run.id,
      first,
    ]);
    await query(em, `select pg_notify('${channels.dispatch}', '')`);
  }

  private async assign(
    em: EntityManager,
    assignments: { id: string; executor: CandidateRow }[],
  ): Promise<AddressedRow[]> {
    return query<AddressedRow>(
      em,
      `with assigned as (
         update task_instances t
            set status = ${DISPATCHED}, executor_id = a.executor_id, executor_name = a.name,
                executor_host = a.host, dispatched_at = now(), acknowledged_at = null,
                updated_at = now()
           from unnest($1::bigint[], $2::int[], $3::text[], $4::text[]) as a(id, executor_id, name, host)
          where t.id = a.id
      returning t.*)
       select ${pendingColumns} from assigned`,
      [
        assignments.map((a) => a.id),
        assignments.map((a) => a.executor.executor_id),
        assignments.map((a) => a.executor.name),
        assignments.map((a) => a.executor.host),
      ],
      { prepare: true },
    );
  }

  /**
   * Per-task locks (not the task row, which the cron ticker claims), then the rows of the online
   * executors bound to those tasks, both in id order (no deadlock between replicas): two
   * replicas never count the same task's or executor's runs at once. One statement; the counts
   * are read by the next one, whose snapshot is taken after the locks are held (a count read by
   * the locking statement itself would predate a wait for a lock, and miss what the holder
   * dispatched).
   */
  private async lockTasksAndExecutors(em: EntityManager, taskIds: number[]): Promise<void> {
    await query(
      em,
      `with task_locks as materialized (
         select pg_advisory_xact_lock(1, id) from unnest($1::int[]) as id order by id)
       select e.id from executors e
        where (select count(*) from task_locks) >= 0 -- all task locks first
          and e.is_enabled and e.is_online
          and e.id in (select eb.executor_id from task_bindings tb
                         join executor_bindings eb on eb.id = tb.binding_id
                        where tb.task_id = any($1::int[]))
        order by e.id
          for update of e`,
      [taskIds],
      { prepare: true },
    );
  }

  /**
   * Online, enabled executors bound to the tasks, with their load, and the tasks' running runs:
   * exact, read under the locks.
   */
  private async candidates(em: EntityManager, taskIds: number[]) {
    // A task with no executor online comes back once, with its count and null executor fields.
    type Row =
      | (CandidateRow & { executor_active: number; task_active: number })
      | { task_id: number; executor_id: null; task_active: number };
    const rows = await query<Row>(
      em,
      `with active as materialized (
         select task_id, executor_id from task_instances where status in (${DISPATCHED}, ${RUNNING})),
       by_executor as (select executor_id, count(*)::int as n from active group by executor_id),
       by_task as (
         select task_id, count(*)::int as n from active
          where task_id = any($1::int[]) group by task_id)
       select t.id as task_id, c.executor_id, c.binding_id, c.weight, c.capacity, c.name, c.host,
              coalesce(be.n, 0) as executor_active, coalesce(bt.n, 0) as task_active
         from unnest($1::int[]) as t(id)
         left join by_task bt on bt.task_id = t.id
         left join lateral (
           select e.id as executor_id, eb.id as binding_id, eb.weight, e.capacity, e.name, e.host
             from task_bindings tb
             join executor_bindings eb on eb.id = tb.binding_id
             join executors e on e.id = eb.executor_id
            where tb.task_id = t.id and e.is_enabled and e.is_online) c on true
         left join by_executor be on be.executor_id = c.executor_id`,
      [taskIds],
      { prepare: true },
    );
    const activeByTask = new Map<number, number>();
    const byTask = new Map<number, Candidate[]>();
    const byExecutor = new Map<number, Candidate[]>();
    const rowsById = new Map<number, CandidateRow>();
    for (const row of rows) {
      activeByTask.set(row.task_id, row.task_active);
      if (row.executor_id === null) continue;
      const candidate: Candidate = {
        executorId: row.executor_id,
        bindingId: row.binding_id,
        weight: row.weight,
        capacity: row.capacity,
        active: row.executor_active,
      };
      const ofTask = byTask.get(row.task_id);
      if (ofTask) ofTask.push(candidate);
      else byTask.set(row.task_id, [candidate]);
      const ofExecutor = byExecutor.get(row.executor_id);
      if (ofExecutor) ofExecutor.push(candidate);
      else byExecutor.set(row.executor_id, [candidate]);
      rowsById.set(row.executor_id, row);
    }
    return { candidates: { byTask, byExecutor, rows: rowsById }, activeByTask };
  }
}
