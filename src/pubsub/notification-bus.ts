import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from '../shared/logger.js';
import { channels, type Channel } from './channels.js';

/** How the bus's connection shows in `pg_stat_activity`. */
export const notificationBusApplicationName = 'graphcron notification bus';

/**
 * One dedicated connection per replica that sends the replica's notifications (`publish`) and
 * LISTENs on the channels that have in-process listeners, fanning notifications out to them. A
 * channel nobody here listens to is not LISTENed: every run changes state a few times and
 * notifies `instances` each time, which a busy replica read and dropped when no one watched runs
 * live. It reconnects by itself; after a reconnect it tells listeners (`onReconnect`) so they can
 * re-read what they might have missed.
 */
export class NotificationBus {
  private readonly emitter = new EventEmitter();
  private client: pg.Client | null = null;
  /** The channels LISTENed on the current connection: done, or on the way. */
  private readonly listens = new Map<Channel, Promise<void>>();
  /** The last statement sent (LISTEN, UNLISTEN, a publish): each waits for the one before. */
  private lastCommand: Promise<void> = Promise.resolve();
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  /** Published this tick: payloads by channel. */
  private published = new Map<Channel, Set<string>>();
  private isTickScheduled = false;
  /** Not sent to PostgreSQL yet: heard here already, or meant for the other replicas only. */
  private unsent = new Map<Channel, Set<string>>();
  /** The sends on their way, until nothing is left unsent: what is published meanwhile follows. */
  private sending: Promise<void> | null = null;

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
    this.handOverPublished();
    await this.sending;
    await this.lastCommand;
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

  /**
   * Notifies `channel` with `payload` on every replica (this one too), once the caller's changes
   * are committed: call it after the commit. What is published in one tick goes out in one
   * statement, identical notifications once.
   *
   * Not NOTIFY in the transaction that made the change: PostgreSQL serialises the commits of
   * notifying transactions (a database-wide lock held until the commit is on disk), and with a
   * notification in each executor report's transaction, reports queued behind each other's disk
   * flush: that lock was the most common wait in the no-op throughput bench. This connection
   * commits its notifications without waiting for the disk (`synchronous_commit` off): a crash
   * loses notifications either way. One is lost if this process dies between the caller's
   * commit and the send, or while this connection is down: the dispatchers and the assignment
   * streams poll, `onReconnect` tells this replica's listeners, and a live run watcher sees the
   * run's next change. (Log chunks are still notified in their transaction: a live tail has no
   * poll.)
   */
  publish(channel: Channel, payload = ''): void {
    addPayload(this.published, channel, payload);
    this.scheduleHandOver();
  }

  /**
   * `publish` for the other replicas only: for news this replica has already acted on (the
   * dispatcher handing assignments to the streams connected here).
   */
  publishElsewhere(channel: Channel, payload = ''): void {
    addPayload(this.unsent, channel, payload);
    this.scheduleHandOver();
  }

  private scheduleHandOver(): void {
    if (this.isTickScheduled) return;
    this.isTickScheduled = true;
    setImmediate(() => this.handOverPublished());
  }

  /**
   * What this tick published: this replica's listeners hear it at once, not after a round trip
   * through PostgreSQL (which had a run's dispatch wait behind a busy connection; the copy
   * PostgreSQL sends back is ignored), and it is queued for the other replicas.
   */
  private handOverPublished(): void {
    this.isTickScheduled = false;
    const published = this.published;
    this.published = new Map();
    for (const [channel, payloads] of published) {
      for (const payload of payloads) {
        this.emitter.emit(channel, payload);
        addPayload(this.unsent, channel, payload);
      }
    }
    if (this.sending || this.unsent.size === 0) return;
    this.sending = this.sendPublished().finally(() => {
      this.sending = null;
    });
  }

  /** Called after the bus reconnected: notifications may have been lost meanwhile. */
  onReconnect(listener: () => void): () => void {
    this.emitter.on('reconnect', listener);
    return () => this.emitter.off('reconnect', listener);
  }

  /**
   * Sends what was published, then, once that is done, what was published meanwhile: one
   * statement at a time (a statement per tick queued up behind a busy connection, and a run's
   * dispatch waited ~300 ms behind them at 500 runTask calls a second).
   */
  private sendPublished(): Promise<void> {
    const unsent = this.unsent;
    this.unsent = new Map();
    if (!this.client || unsent.size === 0) return Promise.resolve();
    const notifications = [...unsent].flatMap(([channel, payloads]) =>
      [...payloads].map((payload) => [channel, payload] as const),
    );
    return this.command(
      this.client,
      `select pg_notify(n.channel, n.payload)
         from unnest($1::text[], $2::text[]) as n(channel, payload)`,
      [notifications.map(([channel]) => channel), notifications.map(([, payload]) => payload)],
    ).then(() => this.sendPublished());
  }

  private async connect(isReconnect = false): Promise<void> {
    const client = new pg.Client({
      connectionString: this.databaseUrl,
      // Its transactions only notify (publish): nothing to keep across a crash.
      options: '-c synchronous_commit=off',
      application_name: notificationBusApplicationName,
    });
    let ownPid: number | null = null; // read once connected, before any LISTEN
    client.on('notification', (message) => {
      // What this connection sent (publish) was heard here already.
      if (message.processId === ownPid) return;
      this.emitter.emit(message.channel, message.payload ?? '');
    });
    client.on('error', (error) => {
      this.logger.warn('notification connection failed; reconnecting', { error });
      this.scheduleReconnect(client);
    });
    client.on('end', () => this.scheduleReconnect(client));
    await client.connect();
    const [backend] = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows;
    ownPid = backend?.pid ?? null;
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
  private command(client: pg.Client, sql: string, params?: unknown[]): Promise<void> {
    this.lastCommand = this.lastCommand.then(() =>
      client.query(sql, params).then(
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

function addPayload(map: Map<Channel, Set<string>>, channel: Channel, payload: string): void {
  const payloads = map.get(channel);
  if (payloads) payloads.add(payload);
  else map.set(channel, new Set([payload]));
}
