import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serverNodeOptions } from '../../src/server-node-options.js';
import { BenchGraphql } from './graphql.js';

/** The compiled program beside this compiled bench (scripts/compiled.sh builds both). */
const serverMain = fileURLToPath(new URL('../../src/main.js', import.meta.url));
const executorCli = fileURLToPath(new URL('../../executor/cli.js', import.meta.url));

const adminPassword = 'bench-admin-password';

export interface ManagedProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  output(): string;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
  /** Resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

function manage(child: ChildProcess): ManagedProcess {
  let output = '';
  child.stdout?.on(
    'data',
    (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)),
  );
  child.stderr?.on(
    'data',
    (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)),
  );
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
  return {
    child,
    pid: child.pid!,
    output: () => output,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

function baseEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };
}

/** Starts `node dist/src/main.js` (what `npm start` runs) and resolves with its URL. */
export async function startServer(
  databaseUrl: string,
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): Promise<ManagedProcess & { url: string }> {
  const child = spawn(process.execPath, [...serverNodeOptions, ...nodeArgs, serverMain], {
    env: {
      ...baseEnv(),
      DATABASE_URL: databaseUrl,
      HOST: '127.0.0.1',
      PORT: '0',
      GRAPHCRON_ADMIN_USERNAME: 'admin',
      GRAPHCRON_ADMIN_PASSWORD: adminPassword,
      GRAPHCRON_LOG_LEVEL: 'warn',
      GRAPHCRON_LOCAL_EXECUTOR: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const managed = manage(child);
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (): void => {
      const match = /graphcron is ready at (\S+)/.exec(managed.output());
      if (match?.[1]) {
        child.stdout!.off('data', onData);
        resolve(match[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`server exited (${code}) before it was ready:\n${managed.output()}`)),
    );
  });
  return { ...managed, url };
}

export async function adminGraphql(url: string): Promise<BenchGraphql> {
  const anonymous = new BenchGraphql(url);
  const { login } = await anonymous.request<{ login: { accessToken: string } }>(
    'mutation ($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }',
    { u: 'admin', p: adminPassword },
  );
  return anonymous.withToken(login.accessToken);
}

export interface BenchExecutor {
  readonly id: string;
  readonly bindingId: string;
  readonly stateDir: string;
  readonly process: ManagedProcess;
}

export interface ExecutorFleetOptions {
  count: number;
  capacity: number;
  isDryRun: boolean;
  heartbeatSeconds?: number;
}

/**
 * Registers `count` executors into a new group with real `graphcron-executor register` runs and
 * starts a `graphcron-executor run` process for each; resolves once all are online.
 */
export async function startExecutorFleet(
  url: string,
  graphql: BenchGraphql,
  options: ExecutorFleetOptions,
): Promise<{ groupId: string; executors: BenchExecutor[]; stop(): Promise<void> }> {
  const { createExecutorGroup } = await graphql.request<{ createExecutorGroup: { id: string } }>(
    'mutation ($name: String!) { createExecutorGroup(input: { name: $name }) { id } }',
    { name: `bench-${Date.now()}` },
  );
  const groupId = createExecutorGroup.id;
  const executors: BenchExecutor[] = [];
  const stop = async (): Promise<void> => {
    // SIGTERM drains (and lets a profiled executor write its profile); SIGKILL if it hangs.
    await Promise.all(
      executors.map(async (executor) => {
        const timer = setTimeout(() => executor.process.child.kill('SIGKILL'), 5_000);
        await executor.process.stop('SIGTERM');
        clearTimeout(timer);
      }),
    );
    for (const executor of executors) rmSync(executor.stateDir, { recursive: true, force: true });
  };
  try {
    const registered = await Promise.all(
      Array.from({ length: options.count }, async (_, index) => {
        const { createEnrollmentToken } = await graphql.request<{
          createEnrollmentToken: { token: string };
        }>('mutation ($g: ID!) { createEnrollmentToken(groupId: $g) { token } }', {
          g: groupId,
        });
        const stateDir = mkdtempSync(path.join(tmpdir(), 'graphcron-bench-executor-'));
        chmodSync(stateDir, 0o700);
        const register = manage(
          spawn(
            process.execPath,
            [
              executorCli,
              'register',
              '--server',
              url,
              '--token',
              createEnrollmentToken.token,
              '--name',
              `bench-${index + 1}`,
              '--capacity',
              String(options.capacity),
              '--state-dir',
              stateDir,
            ],
            { env: baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
          ),
        );
        const code = await register.exited;
        if (code !== 0) throw new Error(`register exited ${code}:\n${register.output()}`);
        const identity = JSON.parse(readFileSync(path.join(stateDir, 'identity.json'), 'utf8')) as {
          executorId: string | number;
        };
        return { id: String(identity.executorId), stateDir };
      }),
    );
    const { executorBindings } = await graphql.request<{
      executorBindings: { nodes: { id: string; executor: { id: string } }[] };
    }>(
      'query ($g: ID!) { executorBindings(filter: { groupId: $g }, first: 500) { nodes { id executor { id } } } }',
      { g: groupId },
    );
    for (const { id, stateDir } of registered) {
      const binding = executorBindings.nodes.find((b) => b.executor.id === id);
      if (!binding) throw new Error(`no binding for executor ${id}`);
      // BENCH_PROFILE=1: the first executor writes a V8 CPU profile as well.
      const profile =
        process.env.BENCH_PROFILE === '1' && executors.length === 0
          ? [
              '--cpu-prof',
              '--cpu-prof-dir=bench/results/profiles',
              `--cpu-prof-name=executor-${Date.now()}.cpuprofile`,
            ]
          : [];
      const child = spawn(
        process.execPath,
        [...profile, executorCli, 'run', '--state-dir', stateDir],
        {
          env: {
            ...baseEnv(),
            GRAPHCRON_EXECUTOR_LOG_LEVEL: 'warn',
            GRAPHCRON_EXECUTOR_CAPACITY: String(options.capacity),
            GRAPHCRON_EXECUTOR_HEARTBEAT_SECONDS: String(options.heartbeatSeconds ?? 5),
            ...(options.isDryRun ? { GRAPHCRON_EXECUTOR_DRY_RUN: '1' } : {}),
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      executors.push({ id, bindingId: binding.id, stateDir, process: manage(child) });
    }
    await Promise.all(
      executors.map(
        (executor) =>
          new Promise<void>((resolve, reject) => {
            const check = (): void => {
              if (/connected to/.test(executor.process.output())) {
                executor.process.child.stdout!.off('data', check);
                resolve();
              }
            };
            executor.process.child.stdout!.on('data', check);
            executor.process.child.once('exit', (code) =>
              reject(new Error(`executor exited (${code}):\n${executor.process.output()}`)),
            );
            check();
          }),
      ),
    );
    return { groupId, executors, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
