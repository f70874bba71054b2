import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { inject } from 'vitest';

/** The compiled program, as `npm run executor` and the `graphcron-executor` bin run it. */
export function executorCliPath(): string {
  return path.join(inject('compiledDir'), 'executor', 'cli.js');
}

export interface ExecutorProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` (past or future) on stdout, or on stderr. */
  waitForOutput(pattern: RegExp, stream?: 'stdout' | 'stderr'): Promise<RegExpExecArray>;
  /** Resolves with the exit code (128 + n when ended by signal n is not used: null then). */
  readonly exited: Promise<number | null>;
}

/** Starts `node cli.js <args>` with a clean environment plus `env`. */
export function startExecutorProcess(
  args: string[],
  env: Record<string, string> = {},
): ExecutorProcess {
  const child = spawn(process.execPath, [executorCliPath(), ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (data: Buffer) => {
    stdout += data.toString();
    for (const waiter of [...waiters]) waiter();
  });
  child.stderr!.on('data', (data: Buffer) => {
    stderr += data.toString();
    for (const waiter of [...waiters]) waiter();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      for (const waiter of [...waiters]) waiter();
      resolve(code);
    }),
  );
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitForOutput(pattern, stream = 'stdout') {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(stream === 'stdout' ? stdout : stderr);
          if (match) {
            waiters.delete(check);
            resolve(match);
          } else if (child.exitCode !== null) {
            waiters.delete(check);
            reject(
              new Error(
                `exited ${child.exitCode} before printing ${pattern}:\n${stdout}\n${stderr}`,
              ),
            );
          }
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** Runs a command to its end. */
export async function runExecutorCommand(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const started = startExecutorProcess(args, env);
  const code = await started.exited;
  return { code, stdout: started.stdout(), stderr: started.stderr() };
}
