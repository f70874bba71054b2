import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConnectionPoolWatch } from '../../../src/database/connection-pool-watch.js';
import { openDatabase } from '../../../src/database/orm.js';
import type { Logger } from '../../../src/shared/logger.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.js';

interface LogLine {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}

/** A logger that keeps its lines, and tells whoever waits for one at a level. */
function recordingLogger(): Logger & { lines: LogLine[]; next(level: string): Promise<LogLine> } {
  const lines: LogLine[] = [];
  const waiters: { level: string; resolve: (line: LogLine) => void }[] = [];
  const write =
    (level: string) =>
    (message: string, fields: Record<string, unknown> = {}) => {
      const line = { level, message, fields };
      lines.push(line);
      for (const waiter of waiters.splice(0)) {
        if (waiter.level === level) waiter.resolve(line);
        else waiters.push(waiter);
      }
    };
  const logger = {
    lines,
    next: (level: string) => new Promise<LogLine>((resolve) => waiters.push({ level, resolve })),
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: () => logger,
  };
  return logger;
}

describe('ConnectionPoolWatch', () => {
  let database: TestDatabase;
  let observer: pg.Client;
  let orm: MikroORM;
  let logger: ReturnType<typeof recordingLogger>;
  let watch: ConnectionPoolWatch;

  beforeAll(async () => {
    database = await createTestDatabase();
    observer = new pg.Client({ connectionString: database.url });
    await observer.connect();
  });

  afterAll(async () => {
    await observer.end();
    await database.drop();
  });

  beforeEach(async () => {
    orm = await openDatabase(database.url);
    logger = recordingLogger();
    watch = await ConnectionPoolWatch.attach(orm, logger, {
      heldWarningMs: 100,
      checkIntervalMs: 20,
    });
    watch.start();
    return () => watch.close(1_000);
  });

  /** Takes a connection from the ORM's pool the way kysely does, and keeps it. */
  const checkOut = async (): Promise<pg.PoolClient> => {
    const pool = await orm.em.getConnection().getNativeClient();
    return pool.connect();
  };

  const isBackendAlive = async (pid: number): Promise<boolean> =>
    (await observer.query('select 1 from pg_stat_activity where pid = $1', [pid])).rowCount === 1;

  it('reports a connection checked out for too long, once', async () => {
    const client = await checkOut();
    const warning = await logger.next('warn');
    expect(warning.message).toMatch(/checked out for too long/);
    expect(warning.fields.count).toBe(1);
    // Several checks later, the same connection is not reported again.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(logger.lines.filter((line) => line.level === 'warn')).toHaveLength(1);
    client.release();
  });

  it('reports a connection again when a later checkout of it is held too long', async () => {
    const first = await checkOut();
    expect((await logger.next('warn')).fields.count).toBe(1);
    first.release();
    // The pool hands out its one idle connection: the same client, checked out anew.
    const second = await checkOut();
    expect(second).toBe(first);
    expect((await logger.next('warn')).fields.count).toBe(1);
    expect(logger.lines.filter((line) => line.level === 'warn')).toHaveLength(2);
    second.release();
  });

  it('does not report connections given back in time', async () => {
    for (let i = 0; i < 5; i++) (await checkOut()).release();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(logger.lines).toEqual([]);
  });

  it('closes the pool at shutdown although a connection is never given back', async () => {
    const leaked = await checkOut();
    const pid = (leaked as pg.PoolClient & { processID: number }).processID;
    expect(await isBackendAlive(pid)).toBe(true);
    const failure = logger.next('error');
    await watch.close(200);
    expect((await failure).fields.count).toBe(1);
    // The connection was closed under its holder: the database session is gone.
    await expect(leaked.query('select 1')).rejects.toThrow();
    await expect.poll(() => isBackendAlive(pid)).toBe(false);
  });

  it('waits at shutdown for a connection given back within the grace period', async () => {
    const client = await checkOut();
    const pid = (client as pg.PoolClient & { processID: number }).processID;
    const query = client.query('select pg_sleep(0.2)').then(() => client.release());
    await watch.close(10_000);
    await query;
    expect(logger.lines.filter((line) => line.level === 'error')).toEqual([]);
    await expect.poll(() => isBackendAlive(pid)).toBe(false);
  });
});
