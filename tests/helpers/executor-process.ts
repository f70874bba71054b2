import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { CreateEnrollmentTokenDocument, ExecutorBindingsDocument } from '../generated/graphql.js';
import type { GraphqlClient } from './graphql-client.js';

/** A state folder for one executor (its key, identity and outbox). */
export function executorStateDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'graphcron-executor-'));
  chmodSync(dir, 0o700);
  return dir;
}

function cli(): string {
  return path.join(inject('compiledDir'), 'executor', 'cli.js');
}

function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    GRAPHCRON_EXECUTOR_LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** `graphcron-executor register …`, as a user would run it; resolves with its output. */
export async function registerExecutor(args: {
  serverUrl: string;
  token: string;
  name: string;
  stateDir: string;
  capacity?: number;
}): Promise<string> {
  const child = spawn(
    process.execPath,
    [
      cli(),
      'register',
      '--server',
      args.serverUrl,
      '--token',
      args.token,
      '--name',
      args.name,
      '--state-dir',
      args.stateDir,
      ...(args.capacity ? ['--capacity', String(args.capacity)] : []),
    ],
    { env: childEnv({}), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`register exited ${code}:\n${output}`);
  return output;
}

export interface ExecutorProcess {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves when the output matches (e.g. the next "connected" line). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `graphcron-executor run --state-dir …` as a real process; resolves once it is connected. */
export async function startExecutorProcess(
  stateDir: string,
  env: Record<string, string> = {},
): Promise<ExecutorProcess> {
  const child = spawn(process.execPath, [cli(), 'run', '--state-dir', stateDir], {
    env: childEnv({ GRAPHCRON_EXECUTOR_HEARTBEAT_SECONDS: '1', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let searchFrom = 0;
  const waitFor = (pattern: RegExp, timeoutMs = 15_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const match = pattern.exec(output.slice(searchFrom));
        if (!match) return;
        searchFrom += match.index + match[0].length;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`executor did not print ${pattern} within ${timeoutMs} ms:\n${output}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      void exited.then((code) => {
        if (!listeners.has(check)) return;
        done();
        reject(new Error(`executor exited (${code}) before printing ${pattern}:\n${output}`));
      });
      check();
    });
  await waitFor(/connected to/);
  return {
    child,
    output: () => output,
    waitFor,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * Enrols a new executor into `groupId` as a user would (an enrollment token, then
 * `graphcron-executor register`), and finds the binding it got; the process is not started.
 */
export async function enrollExecutor(args: {
  client: GraphqlClient;
  serverUrl: string;
  groupId: string;
  name: string;
  capacity: number;
}): Promise<{ id: string; stateDir: string; bindingId: string }> {
  const { createEnrollmentToken } = await args.client.data(CreateEnrollmentTokenDocument, {
    groupId: args.groupId,
  });
  const stateDir = executorStateDir();
  await registerExecutor({
    serverUrl: args.serverUrl,
    token: createEnrollmentToken.token,
    name: args.name,
    stateDir,
    capacity: args.capacity,
  });
  const identity = JSON.parse(readFileSync(path.join(stateDir, 'identity.json'), 'utf8')) as {
    executorId: string | number;
  };
  const id = String(identity.executorId);
  const { executorBindings } = await args.client.data(ExecutorBindingsDocument, {
    filter: { groupId: args.groupId },
    first: 100,
  });
  const binding = executorBindings.nodes.find((b) => b.executor.id === id);
  if (!binding) throw new Error(`no binding for executor ${id}`);
  return { id, stateDir, bindingId: binding.id };
}
