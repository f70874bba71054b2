import type { MikroORM } from '@mikro-orm/postgresql';
import { loadKeyRing } from './auth/signing-keys.js';
import type { Config } from './config.js';
import { openDatabase } from './database/orm.js';
import { buildGraphqlSchema } from './server/build-schema.js';
import { startHttpServer } from './server/http-server.js';
import { createServices } from './server/services.js';
import type { Logger } from './shared/logger.js';
import { acquireMachineIdLease } from './shared/machine-id-lease.js';
import { SnowflakeGenerator } from './shared/snowflake.js';
import { ensureInitialAdmin, type InitialAdmin } from './users/initial-admin.js';

export interface RunningApp {
  readonly url: string;
  readonly port: number;
  readonly orm: MikroORM;
  readonly initialAdmin: InitialAdmin | null;
  /** This replica's snowflake machine id, leased from the database. */
  readonly machineId: number;
  /** Drains HTTP and WebSocket traffic, then closes the database pool. */
  stop(): Promise<void>;
}

/** Composition root shared by `main.ts` and the tests: database → keys → schema → HTTP. */
export async function startApp(
  config: Config,
  databaseUrl: string,
  logger: Logger,
): Promise<RunningApp> {
  const orm = await openDatabase(databaseUrl);
  try {
    const initialAdmin = await ensureInitialAdmin(
      orm.em.fork(),
      config.adminUsername,
      config.adminPassword,
    );
    const keys = await loadKeyRing(orm.em.fork(), config.jwtPrivateKeyPem);
    const lease = await acquireMachineIdLease(orm.em.fork(), logger);
    const ids = new SnowflakeGenerator(lease.machineId);
    const schema = await buildGraphqlSchema();
    const services = createServices({ config, keys, ids });
    const http = await startHttpServer({ config, orm, schema, services, keys, logger });
    let stopping: Promise<void> | undefined;
    return {
      url: http.url,
      port: http.port,
      orm,
      initialAdmin,
      machineId: lease.machineId,
      stop() {
        stopping ??= (async () => {
          await http.stop();
          await lease.stop();
          await orm.close();
        })();
        return stopping;
      },
    };
  } catch (error) {
    await orm.close();
    throw error;
  }
}
