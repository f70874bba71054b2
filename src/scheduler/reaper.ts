import type { MikroORM } from '@mikro-orm/postgresql';
import { query } from '../database/sql.js';
import { channels } from '../pubsub/channels.js';
import type { Logger } from '../shared/logger.js';
import { TaskInstanceStatus } from '../task-instances/task-instance-status.js';
import { redispatchUnacknowledged, retryEndedRuns } from './attempts.js';

const { SCHEDULED, DISPATCHED, RUNNING, UNKNOWN, MANUAL_CANCELLATION, ABNORMAL_ENDING } =
  TaskInstanceStatus;

export interface ReaperOptions {
  intervalMs: number;
  /** An executor silent for longer is offline, and its runs are lost. */
  heartbeatTimeoutSeconds: number;
  /** An assignment not acknowledged within this is dispatched again. */
  ackTimeoutSeconds: number;
}

/**
 * Cleans up after what went missing, judged by the database clock: executors that stopped
 * heartbeating go offline and their runs end UNKNOWN (retried if the task allows), assignments
 * never acknowledged are dispatched again, and runs that waited past their task's
 * `maxWaitSeconds` for an executor fail.
 */
export class Reaper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly orm: MikroORM,
    private readonly logger: Logger,
    private readonly options: ReaperOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.reapOnce()
        .catch((error: unknown) => this.logger.error('reaper pass failed', { error }))
        .finally(() => {
          this.running = null;
        });
    }, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  async reapOnce(): Promise<void> {
    const em = this.orm.em.fork();
    await em.transactional(async (tx) => {
      await query(
        tx,
        `with lost as (
           update executors set is_online = false
            where is_online and (last_heartbeat_at is null
                  or last_heartbeat_at < now() - make_interval(secs => $1::int))
        returning id)
         select pg_notify('${channels.executors}', id::text) from lost`,
        [this.options.heartbeatTimeoutSeconds],
      );
      const orphaned = await query<{ id: string }>(
        tx,
        `with orphaned as (
           update task_instances t
              set status = case when t.cancel_requested_at is null then ${UNKNOWN} else ${MANUAL_CANCELLATION} end,
                  finished_at = now(), updated_at = now(),
                  status_reason = 'executor ' || e.name || ' stopped sending heartbeats'
             from executors e
            where e.id = t.executor_id and not e.is_online and t.status in (${DISPATCHED}, ${RUNNING})
        returning t.id)
         select id, pg_notify('${channels.instances}', id::text) from orphaned`,
      );
      await retryEndedRuns(
        tx,
        orphaned.map((row) => row.id),
      );
    });
    await em.transactional((tx) => redispatchUnacknowledged(tx, this.options.ackTimeoutSeconds));
    // Cancelled before its executor acknowledged it: nobody will report on it, so it ends here
    // (dispatching it again would only send another cancellation nobody acknowledges).
    await query(
      em,
      `with cancelled as (
         update task_instances
            set status = ${MANUAL_CANCELLATION}, finished_at = now(), updated_at = now(),
                status_reason = 'cancelled before the executor acknowledged the assignment'
          where status = ${DISPATCHED} and acknowledged_at is null and cancel_requested_at is not null
            and dispatched_at < now() - make_interval(secs => $1::int)
      returning id)
       select pg_notify('${channels.instances}', id::text) from cancelled`,
      [this.options.ackTimeoutSeconds],
    );
    // Read through the index of waiting runs with a deadline, in its order: with statistics
    // from a time when no run waited, the planner expects one waiting run, and it read them all
    // through the (status) index every second (10,000 waiting: 23 ms, against 0.1 ms through
    // the deadline's index). With sorts off, the plan that needs no sort wins. Runs a dispatcher
    // is claiming are left to the next pass (skip locked): they are being dispatched.
    await em.transactional(async (tx) => {
      await query(tx, 'set local enable_sort = off');
      await query(
        tx,
        `with expired as (
           update task_instances
              set status = ${ABNORMAL_ENDING}, finished_at = now(), updated_at = now(),
                  status_reason = 'no eligible executor took the run within the task''s maxWaitSeconds'
            where ctid = any (array(
                    select ctid from task_instances
                     where status = ${SCHEDULED} and dispatch_deadline < now()
                     order by dispatch_deadline
                       for update skip locked))
        returning id)
         select pg_notify('${channels.instances}', id::text) from expired`,
      );
    });
    await query(em, 'delete from executor_token_uses where expires_at < now()');
  }
}
