import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DedicatedConnection } from '../../../src/database/dedicated-connection.js';
import { createLogger } from '../../../src/shared/logger.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.js';

const applicationName = 'graphcron dedicated connection test';

describe('DedicatedConnection', () => {
  let database: TestDatabase;
  let connection: DedicatedConnection;
  let observer: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    connection = new DedicatedConnection(
      database.url,
      applicationName,
      `create function pg_temp.twice(n int) returns int language sql as 'select 2 * n'`,
      createLogger('error'),
    );
    observer = new pg.Client({ connectionString: database.url });
    await observer.connect();
  });

  afterAll(async () => {
    await connection.close();
    await observer.end();
    await database.drop();
  });

  const sessions = async () =>
    (
      await observer.query<{ pid: number; state: string }>(
        `select pid, state from pg_stat_activity
          where datname = current_database() and application_name = $1`,
        [applicationName],
      )
    ).rows;

  it('runs several statements in one call and returns the rows of each, with its setup', async () => {
    const results = await connection.run(
      'begin; select pg_temp.twice(21) as n; select 1 as a union all select 2; commit',
    );
    expect(results).toEqual([[], [{ n: 42 }], [{ a: 1 }, { a: 2 }], []]);
  });

  it('leaves no transaction open after a statement fails inside one', async () => {
    await expect(connection.run('begin; select 1 / 0')).rejects.toThrow(/division by zero/);
    // The session is idle (not "idle in transaction", nor aborted): the next call works.
    expect(await sessions()).toEqual([expect.objectContaining({ state: 'idle' })]);
    expect(await connection.run('select pg_temp.twice(2) as n')).toEqual([[{ n: 4 }]]);
  });

  it('connects again (with its setup) after its session is terminated', async () => {
    const [before] = await sessions();
    await observer.query('select pg_terminate_backend($1)', [before!.pid]);
    // The call that meets the dead session fails; one of the next ones gets a new session.
    let result: unknown = null;
    for (let attempt = 0; attempt < 50 && result === null; attempt++) {
      result = await connection.run('select pg_temp.twice(5) as n').catch(() => null);
      if (result === null) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(result).toEqual([[{ n: 10 }]]);
    const [after] = await sessions();
    expect(after!.pid).not.toBe(before!.pid);
  });

  it('refuses calls once closed', async () => {
    await connection.close();
    await expect(connection.run('select 1')).rejects.toThrow(/closed/);
    // Its backend may take a moment to leave pg_stat_activity after the socket closes.
    let remaining = await sessions();
    for (let attempt = 0; attempt < 50 && remaining.length > 0; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      remaining = await sessions();
    }
    expect(remaining).toEqual([]);
  });
});
