import type { MikroORM } from '@mikro-orm/postgresql';
import { query } from '../database/sql.js';
import { channels } from '../pubsub/channels.js';
import type { Logger } from '../shared/logger.js';
import { TaskInstanceStatus } from '../task-instances/task-instance-status.js';

const { DISPATCHED, RUNNING, UNKNOWN, MANUAL_CANCELLATION } = TaskInstanceStatus;

export interface ReaperOptions {
  intervalMs: number;
  /** An executor silent for longer is offline, and its runs are lost. */
  heartbeatTimeoutSeconds: number;
}

/**
 * Marks executors that stopped heartbeating offline and ends their dispatched or running runs
 * as UNKNOWN (MANUAL_CANCELLATION when a cancel was pending). Judged by the database clock.
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
      await query(
        tx,
        `with orphaned as (
           update task_instances t
              set status = case when t.cancel_requested_at is null then ${UNKNOWN} else ${MANUAL_CANCELLATION} end,
                  finished_at = now(), updated_at = now(),
                  status_reason = 'executor ' || e.name || ' stopped sending heartbeats'
             from executors e
            where e.id = t.executor_id and not e.is_online and t.status in (${DISPATCHED}, ${RUNNING})
        returning t.id)
         select pg_notify('${channels.instances}', id::text) from orphaned`,
      );
    });
    await em.execute('delete from executor_token_uses where expires_at < now()');
  }
}
