import type { MikroORM } from '@mikro-orm/postgresql';
import type pg from 'pg';
import type { Logger } from '../shared/logger.js';

export interface ConnectionPoolWatchOptions {
  /** A checkout older than this is reported: no statement of ours holds one nearly as long. */
  heldWarningMs: number;
  checkIntervalMs: number;
}

const defaultOptions: ConnectionPoolWatchOptions = {
  heldWarningMs: 60_000,
  checkIntervalMs: 15_000,
};

/**
 * Watches the ORM's connection pool for connections checked out and never given back, and
 * closes the pool at shutdown without waiting on them forever.
 *
 * `pg`'s `pool.end()` waits until every checked-out connection is released, and never serves
 * nor rejects requests still queued: a server seen in the executor-scale bench kept 6
 * connections checked out, idle, after 1,000 executors connected at once, and then hung in
 * shutdown for good. A leak like that also costs capacity silently while the server runs, so
 * it is reported as soon as it is old enough to be one.
 */
export class ConnectionPoolWatch {
  /** Checked-out connections, with when each was taken. */
  private readonly checkedOut = new Map<pg.PoolClient, number>();
  /** Checkouts already reported: each checkout once (a connection given back is forgotten). */
  private readonly reported = new WeakSet<pg.PoolClient>();
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly orm: MikroORM,
    private readonly logger: Logger,
    private readonly options: ConnectionPoolWatchOptions,
    pool: pg.Pool,
  ) {
    pool.on('acquire', (client) => this.checkedOut.set(client, Date.now()));
    pool.on('release', (_error, client) => {
      this.checkedOut.delete(client);
      // The same connection held too long again, on a later checkout, is a new leak.
      this.reported.delete(client);
    });
  }

  static async attach(
    orm: MikroORM,
    logger: Logger,
    options: ConnectionPoolWatchOptions = defaultOptions,
  ): Promise<ConnectionPoolWatch> {
    const pool = await orm.em.getConnection().getNativeClient();
    return new ConnectionPoolWatch(orm, logger, options, pool);
  }

  start(): void {
    this.timer = setInterval(() => this.reportLongHeld(), this.options.checkIntervalMs);
    this.timer.unref();
  }

  /**
   * Closes the ORM and its pool. Connections still checked out after `graceMs` (the server has
   * drained its requests and stopped its loops by then) are closed under their holders.
   */
  async close(graceMs: number): Promise<void> {
    clearInterval(this.timer);
    const closed = this.orm.close();
    let graceTimer: NodeJS.Timeout | undefined;
    const isClosedInTime = await Promise.race([
      closed.then(() => true),
      new Promise<boolean>((resolve) => (graceTimer = setTimeout(() => resolve(false), graceMs))),
    ]).finally(() => clearTimeout(graceTimer));
    if (isClosedInTime) return;
    const held = [...this.checkedOut];
    this.logger.error('database connections still checked out at shutdown: closing them', {
      count: held.length,
      heldSeconds: held.map(([, since]) => secondsSince(since)),
    });
    // A release with an error makes the pool drop the connection; the last one ends the pool.
    for (const [client] of held) client.release(new Error('closed at shutdown'));
    await closed;
  }

  private reportLongHeld(): void {
    const now = Date.now();
    const stale = [...this.checkedOut].filter(
      ([client, since]) => now - since >= this.options.heldWarningMs && !this.reported.has(client),
    );
    if (stale.length === 0) return;
    for (const [client] of stale) this.reported.add(client);
    this.logger.warn('database connections checked out for too long: leaked or stuck', {
      count: stale.length,
      heldSeconds: stale.map(([, since]) => secondsSince(since)),
      checkedOutInAll: this.checkedOut.size,
    });
  }
}

function secondsSince(time: number): number {
  return Math.round((Date.now() - time) / 1000);
}
