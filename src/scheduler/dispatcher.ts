import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { query } from '../database/sql.js';
import { channels } from '../pubsub/channels.js';
import type { NotificationBus } from '../pubsub/notification-bus.js';
import type { Logger } from '../shared/logger.js';
import { TaskInstanceStatus } from '../task-instances/task-instance-status.js';
import type { RoutingStrategy } from '../tasks/routing-strategy.js';
import { pickExecutor, type Candidate } from './routing.js';

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
  routing_strategy: RoutingStrategy;
}

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
 * Turns SCHEDULED runs into DISPATCHED ones: claims a batch with SKIP LOCKED (so replicas share
 * the work), locks the candidate executors (so their capacity is counted exactly across
 * replicas), assigns, and notifies each executor's channel once per transaction. Runs with no
 * executor free stay SCHEDULED and are tried again on the next nudge or poll.
 */
export class Dispatcher {
  private running: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private turns = 0;

  constructor(
    private readonly orm: MikroORM,
    private readonly bus: NotificationBus,
    private readonly logger: Logger,
    private readonly options: DispatcherOptions = { pollIntervalMs: 1_000, batchSize: 200 },
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
    do {
      this.again = false;
      try {
        const dispatched = await this.dispatchBatch();
        if (dispatched >= this.options.batchSize) this.again = true;
      } catch (error) {
        this.logger.error('dispatch pass failed', { error });
      }
    } while (this.again && this.timer);
  }

  /** One transaction: returns how many runs it dispatched. */
  async dispatchBatch(): Promise<number> {
    return this.orm.em.fork().transactional(async (em) => {
      const waiting = await query<WaitingRow>(
        em,
        `select i.id, i.task_id, t.routing_strategy
           from task_instances i join tasks t on t.id = i.task_id
          where i.status = ${SCHEDULED}
          order by i.id
          for update of i skip locked
          limit $1`,
        [this.options.batchSize],
      );
      if (waiting.length === 0) return 0;
      const candidates = await this.candidates(em, [...new Set(waiting.map((w) => w.task_id))]);
      const assignments: { id: string; executor: CandidateRow }[] = [];
      for (const run of waiting) {
        const options = candidates.byTask.get(run.task_id) ?? [];
        const chosen = pickExecutor(run.routing_strategy, options, this.turns++);
        if (!chosen) continue;
        for (const c of candidates.all.get(chosen.executorId) ?? []) c.active++;
        assignments.push({ id: run.id, executor: candidates.rows.get(chosen.executorId)! });
      }
      if (assignments.length === 0) return 0;
      await query(
        em,
        `with assigned as (
           update task_instances t
              set status = ${DISPATCHED}, executor_id = a.executor_id, executor_name = a.name,
                  executor_host = a.host, dispatched_at = now(), acknowledged_at = null,
                  updated_at = now()
             from unnest($1::bigint[], $2::int[], $3::text[], $4::text[]) as a(id, executor_id, name, host)
            where t.id = a.id
        returning t.id, t.executor_id)
         select pg_notify('${channels.assignments}', executor_id::text),
                pg_notify('${channels.instances}', id::text)
           from assigned`,
        [
          assignments.map((a) => a.id),
          assignments.map((a) => a.executor.executor_id),
          assignments.map((a) => a.executor.name),
          assignments.map((a) => a.executor.host),
        ],
      );
      return assignments.length;
    });
  }

  /** Online, enabled executors bound to the tasks, locked, with their current load. */
  private async candidates(em: EntityManager, taskIds: number[]) {
    const rows = await query<CandidateRow>(
      em,
      `select tb.task_id, e.id as executor_id, eb.id as binding_id, eb.weight, e.capacity, e.name, e.host
         from task_bindings tb
         join executor_bindings eb on eb.id = tb.binding_id
         join executors e on e.id = eb.executor_id
        where tb.task_id = any($1::int[]) and e.is_enabled and e.is_online`,
      [taskIds],
    );
    const executorIds = [...new Set(rows.map((r) => r.executor_id))].sort((a, b) => a - b);
    // Locked in id order (no deadlock between replicas); counted after the lock, so exact.
    const loads = executorIds.length
      ? await query<{ id: number; active: number }>(
          em,
          `select e.id, (select count(*)::int from task_instances t
                          where t.executor_id = e.id and t.status in (${DISPATCHED}, ${RUNNING})) as active
             from executors e where e.id = any($1::int[]) order by e.id for update of e`,
          [executorIds],
        )
      : [];
    const activeById = new Map(loads.map((l) => [l.id, l.active]));
    const byTask = new Map<number, Candidate[]>();
    const all = new Map<number, Candidate[]>();
    const byExecutor = new Map<number, CandidateRow>();
    for (const row of rows) {
      const candidate: Candidate = {
        executorId: row.executor_id,
        bindingId: row.binding_id,
        weight: row.weight,
        capacity: row.capacity,
        active: activeById.get(row.executor_id) ?? 0,
      };
      byTask.set(row.task_id, [...(byTask.get(row.task_id) ?? []), candidate]);
      all.set(row.executor_id, [...(all.get(row.executor_id) ?? []), candidate]);
      byExecutor.set(row.executor_id, row);
    }
    return { byTask, all, rows: byExecutor };
  }
}
