import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from '../shared/logger.js';
import { channels, type Channel } from './channels.js';

/**
 * One dedicated connection per replica that LISTENs on the channels that have in-process
 * listeners and fans notifications out to them. A channel nobody here listens to is not
 * LISTENed: every run changes state a few times and notifies `instances` each time, which a busy
 * replica read and dropped when no one watched runs live. It reconnects by itself; after a
 * reconnect it tells listeners (`onReconnect`) so they can re-read what they might have missed.
 */
export class NotificationBus {
  private readonly emitter = new EventEmitter();
  private client: pg.Client | null = null;
  /** The channels LISTENed on the current connection: done, or on the way. */
  private readonly listens = new Map<Channel, Promise<void>>();
  /** The last LISTEN or UNLISTEN sent: each waits for the one before (one query at a time). */
  private lastCommand: Promise<void> = Promise.resolve();
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly databaseUrl: string,
    private readonly logger: Logger,
  ) {
    this.emitter.setMaxListeners(0);
  }

  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
    this.emitter.removeAllListeners();
  }

  /**
   * Calls `listener` with each payload on `channel` from when the channel is LISTENed (at once if
   * it already is: await `listening` where it matters); returns the unsubscribe function.
   */
  on(channel: Channel, listener: (payload: string) => void): () => void {
    this.emitter.on(channel, listener);
    if (this.client && !this.listens.has(channel)) this.listen(this.client, channel);
    let isOn = true;
    return () => {
      if (!isOn) return;
      isOn = false;
      this.emitter.off(channel, listener);
      if (this.emitter.listenerCount(channel) > 0 || !this.client) return;
      this.listens.delete(channel);
      void this.command(this.client, `UNLISTEN ${channel}`); // a new connection starts clean
    };
  }

  /**
   * Resolves once notifications on `channel` reach the listeners given to `on`: its LISTEN is in
   * effect (or the bus is reconnecting: `onReconnect` follows). For readers that listen, then
   * read what is already stored, and must not miss what is stored in between.
   */
  async listening(channel: Channel): Promise<void> {
    await this.listens.get(channel);
  }

  /** Called after the bus reconnected: notifications may have been lost meanwhile. */
  onReconnect(listener: () => void): () => void {
    this.emitter.on('reconnect', listener);
    return () => this.emitter.off('reconnect', listener);
  }

  private async connect(isReconnect = false): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl });
    client.on('notification', (message) => {
      this.emitter.emit(message.channel, message.payload ?? '');
    });
    client.on('error', (error) => {
      this.logger.warn('notification connection failed; reconnecting', { error });
      this.scheduleReconnect(client);
    });
    client.on('end', () => this.scheduleReconnect(client));
    await client.connect();
    // Current before the LISTENs go out, so that a listener added meanwhile gets its own.
    this.client = client;
    this.listens.clear();
    for (const channel of Object.values(channels)) {
      if (this.emitter.listenerCount(channel) > 0) this.listen(client, channel);
    }
    await Promise.all(this.listens.values());
    if (isReconnect) this.emitter.emit('reconnect');
  }

  private listen(client: pg.Client, channel: Channel): void {
    this.listens.set(channel, this.command(client, `LISTEN ${channel}`));
  }

  /** Sends `sql` after the commands before it; a failure is the connection's (it reconnects). */
  private command(client: pg.Client, sql: string): Promise<void> {
    this.lastCommand = this.lastCommand.then(() =>
      client.query(sql).then(
        () => undefined,
        () => undefined,
      ),
    );
    return this.lastCommand;
  }

  private scheduleReconnect(failed: pg.Client): void {
    if (this.stopped || this.client !== failed) return;
    this.client = null;
    this.listens.clear();
    failed.end().catch(() => undefined);
    const attempt = (delayMs: number): void => {
      this.reconnectTimer = setTimeout(() => {
        this.connect(true).catch((error: unknown) => {
          this.logger.warn('notification connection: reconnect failed', { error, delayMs });
          if (!this.stopped) attempt(Math.min(delayMs * 2, 5_000));
        });
      }, delayMs);
      this.reconnectTimer.unref();
    };
    attempt(100);
  }
}
