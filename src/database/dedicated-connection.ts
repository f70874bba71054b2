import pg from 'pg';
import type { Logger } from '../shared/logger.js';

/**
 * A connection of its own for a loop that runs one transaction at a time (the dispatcher). It
 * sends several statements in one round trip (the simple query protocol, so without bind
 * parameters: see sql-literals.ts), and returns the rows of each, which the pool's connections
 * (through kysely) cannot. It never waits for a pooled connection either.
 *
 * It connects on first use and after a failure; `setupSql` runs on each new connection (the
 * session's temporary functions).
 */
export class DedicatedConnection {
  private client: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;
  private closed = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly applicationName: string,
    private readonly setupSql: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Runs `sql` (one or more statements) and returns the rows of each statement. After a
   * failure no transaction is left open: the connection rolls back, or is dropped.
   */
  async run(sql: string): Promise<Record<string, unknown>[][]> {
    const client = await this.connected();
    try {
      // Library boundary: pg types a multi-statement result as one QueryResult; it is an array.
      const result = (await client.query(sql)) as pg.QueryResult | pg.QueryResult[];
      return Array.isArray(result) ? result.map((each) => each.rows) : [result.rows];
    } catch (error) {
      await client.query('rollback').catch(() => this.drop(client));
      throw error;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client ?? (await this.connecting?.catch(() => null));
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private connected(): Promise<pg.Client> {
    if (this.closed) return Promise.reject(new Error('the connection is closed'));
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.databaseUrl,
      application_name: this.applicationName,
    });
    // Dropped on error; the next call connects again.
    client.on('error', (error) => {
      this.logger.warn(`${this.applicationName}: connection failed`, { error });
      this.drop(client);
    });
    client.on('end', () => this.drop(client));
    try {
      await client.connect();
      await client.query(this.setupSql);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      throw new Error('the connection is closed');
    }
    this.client = client;
    return client;
  }

  private drop(client: pg.Client): void {
    if (this.client === client) this.client = null;
    client.end().catch(() => undefined);
  }
}
