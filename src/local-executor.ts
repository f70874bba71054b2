import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MikroORM } from '@mikro-orm/postgresql';
import { recordAudit } from './audit/audit-log.js';
import { ExecutorGroup } from './executor-groups/executor-group.entity.js';
import { issueEnrollmentToken } from './executors/enrollment.service.js';
import type { Logger } from './shared/logger.js';

export const localGroupName = 'local';

export interface LocalExecutor {
  /** Stops the executor (it finishes its running work first), then resolves. */
  stop(): Promise<void>;
}

/**
 * `npm start` on the embedded default also runs one executor on this machine, enrolled into the
 * `local` group the first time, so a new user can run a task with nothing else set up. It is the
 * real executor program in its own process, exactly as on a worker machine.
 */
export async function startLocalExecutor(options: {
  orm: MikroORM;
  serverUrl: string;
  stateDir: string;
  logger: Logger;
}): Promise<LocalExecutor> {
  const { logger } = options;
  mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
  if (!existsSync(path.join(options.stateDir, 'identity.json'))) {
    const token = await enrollLocally(options.orm);
    await runCli([
      'register',
      '--server',
      options.serverUrl,
      '--token',
      token,
      '--name',
      'local',
      '--host',
      'localhost:9100',
      '--state-dir',
      options.stateDir,
    ]);
    logger.info('registered the local executor in group "local"');
  }
  let child: ChildProcess | null = null;
  let stopping = false;
  const launch = (): void => {
    child = spawn(
      process.execPath,
      [cliPath(), 'run', '--server', options.serverUrl, '--state-dir', options.stateDir],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: process.env,
      },
    );
    child.once('exit', (code, signal) => {
      if (stopping) return;
      logger.warn('the local executor exited; restarting it in 2 s', { code, signal });
      setTimeout(() => !stopping && launch(), 2_000).unref();
    });
  };
  launch();
  return {
    async stop() {
      stopping = true;
      const running = child as ChildProcess | null;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        running.once('exit', () => resolve());
        running.kill('SIGTERM');
      });
    },
  };
}

/** The group `local` (created on first use) and a short-lived token into it. */
async function enrollLocally(orm: MikroORM): Promise<string> {
  return orm.em.fork().transactional(async (em) => {
    const actor = { principal: null, requestId: 'local-executor' };
    let group = await em.findOne(ExecutorGroup, { name: localGroupName });
    if (!group) {
      group = new ExecutorGroup();
      group.name = localGroupName;
      group.description = 'This machine: the executor that `npm start` runs beside the server.';
      em.persist(group);
      await em.flush();
      recordAudit(em, actor, {
        action: 'createExecutorGroup',
        entityType: 'ExecutorGroup',
        entityId: group.id,
        before: null,
        after: { name: group.name },
      });
    }
    const { token } = await issueEnrollmentToken(em, actor, {
      group,
      createdById: null,
      expiresInSeconds: 300,
    });
    return token;
  });
}

function cliPath(): string {
  // dist/src/local-executor.js → dist/executor/cli.js (and the same from src/ under a TS runner).
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.join(here, '..', 'executor', `cli${path.extname(fileURLToPath(import.meta.url))}`);
}

function runCli(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath(), ...args], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.once('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`graphcron-executor ${args[0]} exited with ${code}`)),
    );
  });
}
