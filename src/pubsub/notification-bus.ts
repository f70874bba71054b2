import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from '../shared/logger.js';
import { channels, type Channel } from './channels.js';

/**
 * One dedicated connection per replica that LISTENs on every channel and fans notifications out
 * to in-process listeners. It reconnects by itself; after a reconnect it tells listeners
 * (`onReconnect`) so they can re-read what they might have missed.
 */
export class NotificationBus {
  private readonly emitter = new EventEmitter();
  private client: pg.Client | null = null;
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

  /** Calls `listener` with each payload on `channel`; returns the unsubscribe function. */
  on(channel: Channel, listener: (payload: string) => void): () => void {
    this.emitter.on(channel, listener);
    return () => this.emitter.off(channel, listener);
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
    for (const channel of Object.values(channels)) await client.query(`LISTEN ${channel}`);
    this.client = client;
    if (isReconnect) this.emitter.emit('reconnect');
  }

  private scheduleReconnect(failed: pg.Client): void {
    if (this.stopped || this.client !== failed) return;
    this.client = null;
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
