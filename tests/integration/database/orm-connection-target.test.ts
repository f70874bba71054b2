import { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import { parse } from 'pg-connection-string';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ormConfig } from '../../../src/mikro-orm.config.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.js';

interface Endpoint {
  client: string | null;
  database: string;
}

const whereAmI = `select inet_client_addr()::text as client, current_database() as database`;

/** Where the ORM's pool lands for `url`: the client address PostgreSQL sees (null: a socket). */
async function ormEndpoint(url: string): Promise<Endpoint> {
  const orm = await MikroORM.init(ormConfig(url));
  try {
    const [row] = await orm.em.getConnection().execute<Endpoint[]>(whereAmI);
    return row!;
  } finally {
    await orm.close();
  }
}

async function pgEndpoint(url: string): Promise<Endpoint> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Endpoint>(whereAmI)).rows[0]!;
  } finally {
    await client.end();
  }
}

describe('the ORM pool connects where pg reads the URL to go', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  afterAll(async () => {
    await database.drop();
  });

  it('as the notification bus and the dispatcher do (same socket or address)', async () => {
    // The suite's embedded PostgreSQL is reached through its Unix socket (`?host=<folder>`),
    // which the pool once ignored, connecting over TCP while pg.Client used the socket.
    const expected = await pgEndpoint(database.url);
    expect(await ormEndpoint(database.url)).toEqual(expected);
    expect(expected.database).toBe(database.name);
  });

  it('takes a URL with no host name, the host in its query (libpq form)', async () => {
    const target = parse(database.url);
    const query = new URLSearchParams({ host: target.host ?? '', port: target.port ?? '5432' });
    const url = `postgres://${encodeURIComponent(target.user ?? '')}:${encodeURIComponent(
      target.password ?? '',
    )}@/${database.name}?${query.toString()}`;
    expect(await ormEndpoint(url)).toEqual(await pgEndpoint(url));
  });
});
