import pg from 'pg';

/** Read-only SQL on a workload's database, for measuring (never for driving) the system. */
export class MeasurementConnection {
  private constructor(private readonly client: pg.Client) {}

  static async open(databaseUrl: string): Promise<MeasurementConnection> {
    const client = new pg.Client({ connectionString: databaseUrl });
    client.on('error', () => undefined);
    await client.connect();
    return new MeasurementConnection(client);
  }

  async rows<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.client.query<T>(sql, params)).rows;
  }

  /** Polls `check` every `intervalMs` until it returns true; false after `timeoutMs`. */
  async waitFor(
    check: () => Promise<boolean>,
    timeoutMs: number,
    intervalMs = 50,
  ): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await check()) return true;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
    return check();
  }

  close(): Promise<void> {
    return this.client.end();
  }
}
