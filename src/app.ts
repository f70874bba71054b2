import type { MikroORM } from '@mikro-orm/postgresql';
import { loadKeyRing } from './auth/signing-keys.js';
import type { Config } from './config.js';
import { ConnectionPoolWatch } from './database/connection-pool-watch.js';
import { openDatabase } from './database/orm.js';
import { HeartbeatBuffer } from './executor-protocol/heartbeat-buffer.js';
import { NotificationBus } from './pubsub/notification-bus.js';
import { CronTicker, defaultTickerOptions } from './scheduler/cron-ticker.js';
import { Dispatcher } from './scheduler/dispatcher.js';
import { RoundRobinTurns } from './scheduler/round-robin-turns.js';
import { Reaper } from './scheduler/reaper.js';
import { buildGraphqlSchema } from './server/build-schema.js';
import { startHttpServer } from './server/http-server.js';
import { createServices } from './server/services.js';
import type { Logger } from './shared/logger.js';
import { acquireMachineIdLease } from './shared/machine-id-lease.js';
import { SnowflakeGenerator } from './shared/snowflake.js';
import { ensureInitialAdmin, type InitialAdmin } from './users/initial-admin.js';

/**
 * How long shutdown waits for database connections still checked out once requests are drained
 * and the loops stopped: by then a holder is stuck, and the process must still exit.
 */
const poolCloseGraceMs = 5_000;

export interface RunningApp {
  readonly url: string;
  readonly port: number;
  readonly orm: MikroORM;
  readonly initialAdmin: InitialAdmin | null;
  /** This replica's snowflake machine id, leased from the database. */
  readonly machineId: number;
  /** Drains HTTP and WebSocket traffic, stops the engines, then closes the database pool. */
  stop(): Promise<void>;
}

/**
 * Composition root shared by `main.ts` and the tests: database → keys → services → HTTP →
 * engines. `stop()` undoes it in reverse order.
 */
export async function startApp(
  config: Config,
  databaseUrl: string,
  logger: Logger,
): Promise<RunningApp> {
  const orm = await openDatabase(databaseUrl);
  const poolWatch = await ConnectionPoolWatch.attach(orm, logger);
  poolWatch.start();
  const stops: (() => Promise<void> | void)[] = [() => poolWatch.close(poolCloseGraceMs)];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse()) {
      await Promise.resolve(stop()).catch((error: unknown) =>
        logger.error('stop step failed', { error }),
      );
    }
  };
  try {
    const initialAdmin = await ensureInitialAdmin(
      orm.em.fork(),
      config.adminUsername,
      config.adminPassword,
    );
    const keys = await loadKeyRing(orm.em.fork(), config.jwtPrivateKeyPem);
    const lease = await acquireMachineIdLease(orm.em.fork(), logger);
    stops.push(() => lease.stop());
    const bus = new NotificationBus(databaseUrl, logger);
    await bus.start();
    stops.push(() => bus.stop());
    const heartbeats = new HeartbeatBuffer(orm, logger);
    heartbeats.start();
    stops.push(() => heartbeats.stop());
    const ids = new SnowflakeGenerator(lease.machineId);
    const turns = new RoundRobinTurns();
    const services = createServices({ config, keys, ids, turns, orm, bus, logger, heartbeats });
    services.assignments.start();
    stops.push(() => services.assignments.stop());
    stops.push(() => services.principals.stop());
    const dispatcher = new Dispatcher(databaseUrl, bus, ids, logger, services.assignments, turns);
    const reaper = new Reaper(orm, logger, {
      intervalMs: Math.min(1_000, (config.executorHeartbeatTimeoutSeconds * 1000) / 4),
      heartbeatTimeoutSeconds: config.executorHeartbeatTimeoutSeconds,
      ackTimeoutSeconds: config.assignmentAckTimeoutSeconds,
    });
    const ticker = new CronTicker(orm, ids, logger, {
      ...defaultTickerOptions,
      misfireThresholdMs: config.misfireThresholdSeconds * 1000,
      leadMs: config.cronLeadMs,
    });
    const schema = await buildGraphqlSchema();
    const http = await startHttpServer({ config, orm, schema, services, keys, logger });
    stops.push(() => http.stop());
    dispatcher.start();
    stops.push(() => dispatcher.stop());
    reaper.start();
    stops.push(() => reaper.stop());
    if (config.cronTicker) {
      ticker.start();
      stops.push(() => ticker.stop());
    }
    let stopping: Promise<void> | undefined;
    return {
      url: http.url,
      port: http.port,
      orm,
      initialAdmin,
      machineId: lease.machineId,
      stop() {
        stopping ??= stopAll();
        return stopping;
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
