import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { query } from '../database/sql.js';
import { channels } from '../pubsub/channels.js';
import type { Logger } from '../shared/logger.js';
import type { SnowflakeGenerator } from '../shared/snowflake.js';
import { TaskInstanceStatus } from '../task-instances/task-instance-status.js';
import { fireKeyPredicate } from '../task-instances/task-instance.entity.js';
import type { FrequencyMode } from '../tasks/frequency-mode.js';
import { OverlapPolicy, type MisfirePolicy } from '../tasks/schedule-policies.js';
import {
  dispatchDeadlineSql,
  taskSnapshotColumns,
  taskSnapshotValues,
} from '../task-instances/task-snapshot.sql.js';
import { planFires, type PlanOptions } from './fire-plan.js';

const { SCHEDULED, DISPATCHED, RUNNING, SKIPPED } = TaskInstanceStatus;

export interface CronTickerOptions extends PlanOptions {
  /** Longest sleep between looks at the schedule (the backstop). */
  pollIntervalMs: number;
  /** Due tasks claimed per transaction. */
  batchSize: number;
  /**
   * Fires are made (and dispatched) this long before their time; executors start them on their
   * second (the assignment's `startAt`), so dispatch and delivery no longer delay the start.
   */
  leadMs: number;
}

export const defaultTickerOptions: CronTickerOptions = {
  pollIntervalMs: 1_000,
  // A second of fires in one transaction where possible: under load every round trip costs
  // milliseconds, and the last of five batches of 200 started ~150 ms after its second.
  batchSize: 1_000,
  misfireThresholdMs: 5_000,
  maxFires: 1_000,
  leadMs: 0,
};

interface PlannedFire {
  taskId: number;
  scheduledAt: Date;
  skipReason: string | null;
}

interface DueRow {
  id: number;
  cron_expression: string;
  time_zone: string;
  next_fire_at: Date;
  frequency: FrequencyMode;
  frequency_times: number | null;
  fired_count: number;
  misfire_policy: MisfirePolicy;
  overlap_policy: OverlapPolicy;
  max_parallel_runs: number;
  active_from: Date | null;
  active_until: Date | null;
  active_runs: number;
}

/** How often tasks inside their lead window but not yet given it are looked at again. */
const leadPollIntervalMs = 50;

/**
 * Fires cron schedules. Every replica runs one; a due task is claimed with FOR UPDATE SKIP
 * LOCKED, its fires inserted under the unique (task, fire time) key, and its next fire time
 * advanced, all in one transaction: each fire happens exactly once, whichever replica claims
 * it, and a crash in between leaves nothing. The database clock decides what is due.
 */
export class CronTicker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;

  constructor(
    private readonly orm: MikroORM,
    private readonly ids: SnowflakeGenerator,
    private readonly logger: Logger,
    private readonly options: CronTickerOptions = defaultTickerOptions,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /**
   * One pass: fires everything due at `now` (default: the database's now()). Returns how many
   * fire records (runs and skips) it wrote. Tests pass a fake `now`.
   */
  async tick(now?: Date): Promise<number> {
    let written = 0;
    for (;;) {
      const batch = await this.orm.em.fork().transactional((em) => this.tickBatch(em, now));
      written += batch.written;
      if (batch.claimed < this.options.batchSize) return written;
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.pass().finally(() => {
        this.running = null;
      });
    }, delayMs);
  }

  private async pass(): Promise<void> {
    let delayMs = this.options.pollIntervalMs;
    try {
      await this.tick();
      // Sleep until the next lead window opens (the next fire less the lead), on the database
      // clock. A task inside its window but not given the lead (a SKIP task whose run is still
      // in progress) gets it as soon as that run ends: look again shortly until its fire time.
      const [next] = await query<{ due_ms: number | null }>(
        this.orm.em.fork(),
        `select extract(epoch from min(next_fire_at) - clock_timestamp()) * 1000 as due_ms
           from tasks where is_enabled and next_fire_at is not null`,
      );
      if (next?.due_ms !== null && next?.due_ms !== undefined) {
        const dueMs = Number(next.due_ms);
        const windowMs = dueMs - this.options.leadMs;
        const waitMs = windowMs > 0 ? windowMs : Math.min(leadPollIntervalMs, Math.max(0, dueMs));
        delayMs = Math.max(0, Math.min(delayMs, Math.ceil(waitMs)));
      }
    } catch (error) {
      this.logger.error('cron tick failed', { error });
    }
    this.schedule(delayMs);
  }

  private async tickBatch(
    em: EntityManager,
    fakeNow?: Date,
  ): Promise<{ claimed: number; written: number }> {
    // `horizon`: how far ahead the task is fired. A task under `overlapPolicy: SKIP` with a run
    // in progress gets no lead: its overlap is judged at its fire time, not before (the run may
    // well end in between). Runs are counted only for tasks inside the widest window.
    const due = await query<DueRow & { now: string; horizon: string }>(
      em,
      `select t.id, t.cron_expression, t.time_zone, t.next_fire_at, t.frequency, t.frequency_times,
              t.fired_count, t.misfire_policy, t.overlap_policy, t.max_parallel_runs, t.active_from,
              t.active_until, a.active_runs, c.now, h.horizon
         from (select coalesce($1::timestamptz, now()) as now,
                      make_interval(secs => $3::float8 / 1000) as lead) c
        cross join tasks t
        cross join lateral (
          select count(*)::int as active_runs from task_instances i
           where i.task_id = t.id and i.status in (${SCHEDULED}, ${DISPATCHED}, ${RUNNING})) a
        cross join lateral (
          select c.now + case when t.overlap_policy = '${OverlapPolicy.SKIP}' and a.active_runs > 0
                              then interval '0' else c.lead end as horizon) h
        where t.is_enabled and t.cron_expression is not null
          and t.next_fire_at <= c.now + c.lead and t.next_fire_at <= h.horizon
        order by t.next_fire_at
        for update of t skip locked
        limit $2`,
      [fakeNow ?? null, this.options.batchSize, this.options.leadMs],
    );
    if (due.length === 0) return { claimed: 0, written: 0 };
    // Timestamps come back as text from raw queries (MikroORM's driver setting): parse them.
    const now = new Date(due[0]!.now);
    const fires: PlannedFire[] = [];
    const advances: { taskId: number; nextFireAt: Date | null; runs: number }[] = [];
    let runs = 0;
    for (const row of due) {
      const plan = planFires(
        {
          cronExpression: row.cron_expression,
          timeZone: row.time_zone,
          nextFireAt: new Date(row.next_fire_at),
          frequency: row.frequency,
          frequencyTimes: row.frequency_times,
          firedCount: row.fired_count,
          misfirePolicy: row.misfire_policy,
          overlapPolicy: row.overlap_policy,
          maxParallelRuns: row.max_parallel_runs,
          activeFrom: row.active_from && new Date(row.active_from),
          activeUntil: row.active_until && new Date(row.active_until),
          activeRuns: row.active_runs,
        },
        now,
        this.options,
        new Date(row.horizon),
      );
      for (const fire of plan.fires) fires.push({ taskId: row.id, ...fire });
      advances.push({ taskId: row.id, nextFireAt: plan.nextFireAt, runs: plan.runs });
      runs += plan.runs;
    }
    // Set-based, one statement: every fire of the batch inserted, every task advanced, and the
    // dispatchers told, so a second with a thousand due tasks costs a few round trips.
    const written = await this.writeBatch(em, now, fires, advances, runs > 0);
    return { claimed: due.length, written };
  }

  /**
   * Inserts fires with a snapshot of their tasks (task-snapshot.sql.ts) and advances the tasks.
   * The unique (task, fire time) key makes a repeated fire a no-op. Returns the fires inserted.
   */
  private async writeBatch(
    em: EntityManager,
    now: Date,
    fires: readonly PlannedFire[],
    advances: readonly { taskId: number; nextFireAt: Date | null; runs: number }[],
    isDispatchDue: boolean,
  ): Promise<number> {
    const rows = await query<{ id: string | null }>(
      em,
      `with advanced as (
         update tasks t set next_fire_at = a.next_fire_at, fired_count = t.fired_count + a.runs
           from unnest($6::int[], $7::timestamptz[], $8::int[]) as a(id, next_fire_at, runs)
          where t.id = a.id),
       inserted as (
         insert into task_instances (
           id, ${taskSnapshotColumns}, trigger, scheduled_at, status, status_reason, finished_at,
           attempt, dispatch_deadline, created_at, updated_at)
         select f.id, ${taskSnapshotValues()}, 'CRON', f.scheduled_at,
                case when f.skip_reason is null then ${SCHEDULED} else ${SKIPPED} end, f.skip_reason,
                case when f.skip_reason is null then null else $1::timestamptz end, 1,
                case when f.skip_reason is null then ${dispatchDeadlineSql('$1::timestamptz')} end,
                $1, $1
           from unnest($2::bigint[], $3::int[], $4::timestamptz[], $5::text[])
                  as f(id, task_id, scheduled_at, skip_reason)
           -- each fire's task by its key: joined by hash, every batch read the whole tasks
           -- table (~40 ms at 10,000 tasks, auto_explain)
           cross join lateral (select * from tasks where id = f.task_id offset 0) t
         on conflict (task_id, scheduled_at, broadcast_executor_id) where ${fireKeyPredicate}
           do nothing
         returning id)
       select id, pg_notify('${channels.instances}', id::text) from inserted
       union all
       select null, pg_notify('${channels.dispatch}', '') where $9::boolean`,
      [
        now,
        fires.map(() => this.ids.next()),
        fires.map((f) => f.taskId),
        fires.map((f) => f.scheduledAt),
        fires.map((f) => f.skipReason),
        advances.map((a) => a.taskId),
        advances.map((a) => a.nextFireAt),
        advances.map((a) => a.runs),
        isDispatchDue,
      ],
    );
    return rows.filter((row) => row.id !== null).length;
  }
}
