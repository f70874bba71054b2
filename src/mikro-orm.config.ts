import 'reflect-metadata';
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { Migrator } from '@mikro-orm/migrations';
import { defineConfig, type Options } from '@mikro-orm/postgresql';
import { parse } from 'pg-connection-string';
import { migrationsList } from '../migrations/index.js';
import { entities } from './database/entities.js';
import { createSessionFunctions } from './database/session-functions.js';

/** The ORM configuration shared by the server, the migration scripts and the tests. */
export function ormConfig(databaseUrl: string, overrides: Partial<Options> = {}): Options {
  // The pool's connections go where pg itself reads the URL to go, as the notification bus's and
  // the dispatcher's do: MikroORM's own reading of `clientUrl` ignores its query (libpq's
  // `?host=/run/postgresql` socket folder, `sslmode`), so the pool went over TCP to the URL's
  // host name while the others used the socket; and it cannot read a URL with no host name
  // (`postgres://user@/db?host=…`). Its own fields are only what it shows and names.
  const target = parse(databaseUrl);
  return defineConfig({
    dbName: target.database ?? undefined,
    host: target.host ?? undefined,
    port: target.port ? Number(target.port) : undefined,
    user: target.user,
    password: target.password,
    driverOptions: { connectionString: databaseUrl },
    entities,
    metadataProvider: ReflectMetadataProvider,
    extensions: [Migrator],
    // Discovery is explicit (the list above), so it works the same from src/ and dist/.
    discovery: { warnWhenNoEntities: true },
    migrations: {
      migrationsList,
      snapshot: false,
      silent: true,
      transactional: true,
      allOrNothing: true,
      path: 'migrations',
      pathTs: 'migrations',
      emit: 'ts',
    },
    // Idle connections are kept for minutes, not pg-pool's 10 s: each new one costs a backend,
    // the session functions and their first plans, and the prepared statements, and a load that
    // comes back (the next burst of cron fires, a busier minute) opened a dozen at once. At the
    // step from 100 to 500 runTask calls a second, runTask's p99 was 134-173 ms with 10 s and
    // 27-57 ms with this (latency bench).
    pool: { min: 0, max: 20, idleTimeoutMillis: 300_000 },
    onCreateConnection: createSessionFunctions,
    // Propagation keeps both sides of bidirectional relations in sync; we have none (the one
    // collection, Task.bindings, has no inverse side). Left on, it gives every property of every
    // loaded entity accessors of its own, defined per instance: a third of the cost of mapping
    // the 1,000 runs a runTasks call creates.
    propagationOnPrototype: false,
    debug: false,
    ...overrides,
  });
}
