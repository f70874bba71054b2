import 'reflect-metadata';
import path from 'node:path';
import { startApp } from './app.js';
import { startLocalExecutor } from './local-executor.js';
import { ConfigError, loadConfig } from './config.js';
import {
  EmbeddedPostgresError,
  startEmbeddedPostgres,
  type EmbeddedPostgres,
} from './database/embedded-postgres.js';
import { admin, databaseUrlFor } from './database/scratch-database.js';
import { createLogger } from './shared/logger.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  let embedded: EmbeddedPostgres | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    logger.info('DATABASE_URL is not set: starting embedded PostgreSQL', {
      dataDir: config.dataDir,
    });
    embedded = await startEmbeddedPostgres({ folder: config.dataDir });
    await admin(embedded.url, 'create database graphcron').catch((error: { code?: string }) => {
      if (error.code !== '42P04') throw error; // 42P04: it exists already (later starts).
    });
    databaseUrl = databaseUrlFor(embedded.url, 'graphcron');
  }
  const app = await startApp(config, databaseUrl, logger).catch(async (error: unknown) => {
    await embedded?.stop();
    throw error;
  });

  if (app.initialAdmin) {
    const { username, generatedPassword } = app.initialAdmin;
    console.log(
      generatedPassword
        ? `Created the first admin "${username}" with password: ${generatedPassword}\n` +
            '(shown once; set GRAPHCRON_ADMIN_PASSWORD to choose it yourself)'
        : `Created the first admin "${username}" with the password from GRAPHCRON_ADMIN_PASSWORD`,
    );
  }
  const localExecutor = config.localExecutor
    ? await startLocalExecutor({
        orm: app.orm,
        serverUrl: app.url.replace('//localhost:', '//127.0.0.1:'),
        stateDir: path.join(config.dataDir, 'local-executor'),
        logger,
      }).catch((error: unknown) => {
        logger.error('could not start the local executor; the server runs without it', { error });
        return null;
      })
    : null;
  console.log(`graphcron is ready at ${app.url}`);
  if (localExecutor) console.log('A local executor runs beside it, in the executor group "local".');

  let shuttingDown = false;
  const shutdown = (signal: string): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info('shutting down', { signal });
    Promise.resolve(localExecutor?.stop())
      .then(() => app.stop())
      .then(() => logger.info('server stopped; closing the embedded database'))
      .then(() => embedded?.stop())
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        logger.error('shutdown failed', { error });
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof EmbeddedPostgresError) {
    console.error(`graphcron: ${error.message}`);
  } else {
    console.error('graphcron failed to start:', error);
  }
  process.exit(1);
});
