import { parseArgs } from 'node:util';
import { resolveRunConfig, runFlagOptions } from '../config/run-config.js';
import { startExecutor } from '../executor-program.js';
import { createLogger } from '../logger.js';

type Environment = Record<string, string | undefined>;

/** Exit code when the server refuses this executor's key (EX_CONFIG). */
export const refusedExitCode = 78;

/**
 * `run`: works until SIGTERM or SIGINT. The first signal drains (no new work, running work
 * finishes, reports flushed) and exits 0; a second one kills running work and exits at once.
 */
export async function runCommand(
  argv: string[],
  environment: Environment,
  print: (line: string) => void,
): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: runFlagOptions,
    strict: true,
    allowPositionals: false,
  });
  const config = await resolveRunConfig(values, environment);
  const logger = createLogger(config.logLevel);
  logger.info('starting', {
    executorId: config.executorId,
    server: config.server.httpUrl,
    stateDir: config.stateDir,
    capacity: config.capacity,
    isDryRun: config.isDryRun,
  });

  let signalCount = 0;
  const executor = await startExecutor(config, logger, {
    announce: print,
    onRefused: () => {
      process.stderr.write(
        `graphcron-executor: the server refused this executor's key: is executor ${config.executorId} registered and enabled, with this key?\n`,
      );
      void executor
        .forceStop()
        .catch(() => undefined)
        .finally(() => process.exit(refusedExitCode));
    },
  });

  const onSignal = (signal: NodeJS.Signals): void => {
    signalCount += 1;
    if (signalCount === 1) {
      logger.info('signal received; draining (send it again to stop now)', { signal });
      void executor.shutdown().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error('shutdown failed', { error });
          process.exit(1);
        },
      );
      return;
    }
    logger.warn('second signal; stopping now', { signal });
    void executor
      .forceStop()
      .catch((error: unknown) => logger.error('forced stop failed', { error }))
      .finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
