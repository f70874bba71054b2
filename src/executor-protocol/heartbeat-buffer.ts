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
      // Executors whose rows are held (a run being placed on them, a dispatch pass) are left
      // for the next flush, not waited for: waiting, this statement held the rows it had locked
      // meanwhile, and the runTask calls that came then waited behind it (runTask p99 ~170 ms at
      // 500 calls a second). A heartbeat is late by a flush at most.
      const rows = await query<{ id: number }>(
        this.orm.em.fork(),
        `with previous as materialized (
           select id, is_online from executors where id = any($1::int[]) for update skip locked),
         updated as (
           update executors e set last_heartbeat_at = now(), is_online = true
             from previous p where e.id = p.id returning e.id, p.is_online as was_online)
         select id,
                case when not was_online then pg_notify('${channels.executors}', id::text) end,
                case when not was_online then pg_notify('${channels.dispatch}', '') end
           from updated`,
        [ids],
      );
      const written = new Set(rows.map((row) => row.id));
      for (const id of ids) if (!written.has(id)) this.heard.add(id);
    } catch (error) {
      for (const id of ids) this.heard.add(id);
      this.logger.warn('could not persist heartbeats; will retry', {
        error,
        executors: ids.length,
      });
    }
  }
}
