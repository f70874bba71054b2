import type { MikroORM } from '@mikro-orm/postgresql';
import { query } from '../database/sql.js';
import { channels } from '../pubsub/channels.js';
import type { Logger } from '../shared/logger.js';

/**
 * Heartbeats are persisted coarsely: this replica collects the executors it heard from and
 * writes them in one statement per interval. An executor coming back online is announced and
 * nudges the dispatcher.
 */
export class HeartbeatBuffer {
  private heard = new Set<number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly orm: MikroORM,
    private readonly logger: Logger,
    private readonly flushIntervalMs = 1_000,
  ) {}

  record(executorId: number): void {
    this.heard.add(executorId);
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.flushIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }

  async flush(): Promise<void> {
    if (this.heard.size === 0) return;
    const ids = [...this.heard];
    this.heard = new Set();
    try {
      await query(
        this.orm.em.fork(),
        `with previous as (
           select id, is_online from executors where id = any($1::int[]) for update),
         updated as (
           update executors e set last_heartbeat_at = now(), is_online = true
             from previous p where e.id = p.id returning e.id, p.is_online as was_online)
         select pg_notify('${channels.executors}', id::text), pg_notify('${channels.dispatch}', '')
           from updated where not was_online`,
        [ids],
      );
    } catch (error) {
      for (const id of ids) this.heard.add(id);
      this.logger.warn('could not persist heartbeats; will retry', {
        error,
        executors: ids.length,
      });
    }
  }
}
