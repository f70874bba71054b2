import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ResultOf } from '@graphql-typed-document-node/core';
import {
  CreateExecutorGroupDocument,
  SchedulerCreateTaskDocument,
  SchedulerRunTaskDocument,
  type CreateTaskInput,
} from '../../generated/graphql.js';
import {
  enrollExecutor,
  startExecutorProcess,
  type ExecutorProcess,
} from '../../helpers/executor-process.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startServerProcess, type ServerProcess } from '../../helpers/server-process.js';
import { adminClient, isAlive } from '../../e2e/scheduler/cluster.js';
import {
  FaultExecutorsDocument,
  FaultRunDocument,
  FaultRunLogsDocument,
  FaultRunsDocument,
  type FaultLogLine,
  type FaultRun,
} from './operations.js';

/** The admin password cluster.ts's adminClient logs in with. */
const adminPassword = 'e2e-admin-password';

/**
 * A fleet for fault tests: real server processes on a given database (a test database, or a
 * private PostgreSQL the test stops and starts), real executor processes registered into one
 * group (each may get its own environment and server URL, e.g. through a TCP proxy), an admin
 * client, and waits that poll with a deadline and tolerate failures (the database or a server
 * may be down while a test waits).
 *
 * Long-running commands record their pid with `fleet.recordPid` so that what a SIGKILLed
 * executor orphans is killed at the end.
 */

export interface FleetExecutor {
  readonly id: string;
  readonly name: string;
  readonly bindingId: string;
  readonly stateDir: string;
  /** The environment its process runs with (capacity, server URL, role). */
  readonly env: Record<string, string>;
  process: ExecutorProcess;
  /** Starts a new process on the same state folder and environment (after a kill). */
  restart(extraEnv?: Record<string, string>): Promise<ExecutorProcess>;
}

export interface AddExecutorOptions {
  name?: string;
  capacity?: number;
  /** The replica it registers with (default servers[0]). */
  via?: ServerProcess;
  /** The URL it runs against (GRAPHCRON_SERVER_URL), e.g. a proxy's; default `via`'s. */
  serverUrl?: string;
  /** Extra environment of the process, which its commands inherit. */
  env?: Record<string, string>;
}

export interface Fleet {
  readonly databaseUrl: string;
  readonly serverEnv: Record<string, string>;
  readonly servers: ServerProcess[];
  admin: GraphqlClient;
  readonly groupId: string;
  readonly executors: FleetExecutor[];
  /** A folder for the test's markers and pid files, removed at the end. */
  readonly scratch: string;
  /** Shell snippet: appends the shell's pid to the scratch pid file (use before `exec`). */
  readonly recordPid: string;
  addExecutor(options?: AddExecutorOptions): Promise<FleetExecutor>;
  /** Resolves once these executors are online (the API's view, which the dispatcher uses). */
  waitOnline(executors: FleetExecutor[], timeoutMs?: number): Promise<void>;
  createTask(input: Partial<CreateTaskInput> & { command: string }): Promise<string>;
  runTask(taskId: string): Promise<string>;
  run(id: string): Promise<FaultRun>;
  /** Every run of a task, through the API (all pages). */
  runsOf(taskId: string): Promise<FaultRun[]>;
  /** A run's log lines, of one attempt or of all, through the API (all pages). */
  logsOf(id: string, attempt?: number): Promise<FaultLogLine[]>;
  /**
   * Polls `check` every `intervalMs` (a failing check counts as not yet) and resolves with its
   * first truthy result; rejects after `timeoutMs` naming `what` and the last failure.
   */
  until<T>(
    what: string,
    check: () => Promise<T | null | undefined | false>,
    timeoutMs?: number,
    intervalMs?: number,
  ): Promise<T>;
  /** Pids recorded by `recordPid` so far. */
  recordedPids(): number[];
  /** Kills orphaned commands recorded by `recordPid`; returns how many were alive. */
  killRecordedPids(): number;
  stop(): Promise<void>;
}

export interface FleetOptions {
  databaseUrl: string;
  replicas?: number;
  /** Extra server environment (heartbeat window, log level, …). */
  env?: Record<string, string>;
  /** Called last by stop() (e.g. drop the database). */
  onStop?: () => Promise<void>;
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const serverEnv: Record<string, string> = {
    DATABASE_URL: options.databaseUrl,
    PORT: '0',
    GRAPHCRON_ADMIN_USERNAME: 'admin',
    GRAPHCRON_ADMIN_PASSWORD: adminPassword,
    GRAPHCRON_LOG_LEVEL: 'warn',
    ...options.env,
  };
  const servers: ServerProcess[] = [];
  const executors: FleetExecutor[] = [];
  const scratch = mkdtempSync(path.join(tmpdir(), 'graphcron-faults-'));
  const pidFile = path.join(scratch, 'pids');

  const recordedPids = (): number[] =>
    existsSync(pidFile)
      ? readFileSync(pidFile, 'utf8')
          .split('\n')
          .map((line) => Number(line.trim()))
          .filter((pid) => pid > 0)
      : [];
  const killRecordedPids = (): number => {
    let killed = 0;
    for (const pid of recordedPids()) {
      if (!isAlive(pid)) continue;
      try {
        // The runner starts each command in its own process group, led by the shell.
        process.kill(-pid, 'SIGKILL');
      } catch {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          continue;
        }
      }
      killed++;
    }
    return killed;
  };

  const stop = async (): Promise<void> => {
    for (const executor of executors) await executor.process.stop('SIGKILL');
    killRecordedPids();
    for (const server of servers) {
      const exited = server.stop('SIGTERM');
      const timer = setTimeout(() => void server.stop('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    await options.onStop?.();
    for (const executor of executors) rmSync(executor.stateDir, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  };

  const until: Fleet['until'] = async (what, check, timeoutMs = 20_000, intervalMs = 200) => {
    const deadline = Date.now() + timeoutMs;
    let lastFailure: unknown;
    for (;;) {
      try {
        const result = await check();
        if (result) return result;
        lastFailure = undefined;
      } catch (error) {
        lastFailure = error;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        const why = lastFailure instanceof Error ? ` (last failure: ${lastFailure.message})` : '';
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, remaining)));
    }
  };

  try {
    // The first replica seeds the admin: start it alone, then the others together.
    servers.push(await startServerProcess(serverEnv));
    servers.push(
      ...(await Promise.all(
        Array.from({ length: (options.replicas ?? 1) - 1 }, () => startServerProcess(serverEnv)),
      )),
    );
    const admin = await adminClient(servers[0]!.url);
    const { createExecutorGroup } = await admin.data(CreateExecutorGroupDocument, {
      input: { name: 'faults' },
    });
    const groupId = createExecutorGroup.id;

    const fleet: Fleet = {
      databaseUrl: options.databaseUrl,
      serverEnv,
      servers,
      admin,
      groupId,
      executors,
      scratch,
      recordPid: `echo $$ >> ${pidFile}`,
      async addExecutor({ name, capacity = 8, via = servers[0]!, serverUrl, env = {} } = {}) {
        const client = via === servers[0] ? fleet.admin : await adminClient(via.url);
        const executorName = name ?? `fault-executor-${executors.length + 1}`;
        const enrolled = await enrollExecutor({
          client,
          serverUrl: via.url,
          groupId,
          name: executorName,
          capacity,
        });
        const { stateDir } = enrolled;
        const processEnv: Record<string, string> = {
          GRAPHCRON_EXECUTOR_CAPACITY: String(capacity),
          ...(serverUrl ? { GRAPHCRON_SERVER_URL: serverUrl } : {}),
          ...env,
        };
        const executor: FleetExecutor = {
          id: enrolled.id,
          name: executorName,
          bindingId: enrolled.bindingId,
          stateDir,
          env: processEnv,
          process: await startExecutorProcess(stateDir, processEnv),
          async restart(extraEnv = {}) {
            executor.process = await startExecutorProcess(stateDir, { ...processEnv, ...extraEnv });
            return executor.process;
          },
        };
        executors.push(executor);
        return executor;
      },
      async waitOnline(list, timeoutMs = 15_000) {
        const ids = list.map((e) => e.id);
        await until(
          `executors ${ids.join(', ')} online`,
          async () => {
            const { executors: page } = await fleet.admin.data(FaultExecutorsDocument, {});
            const online = new Set(page.nodes.filter((e) => e.isOnline).map((e) => e.id));
            return ids.every((id) => online.has(id));
          },
          timeoutMs,
        );
      },
      async createTask(input) {
        const { createTask } = await fleet.admin.data(SchedulerCreateTaskDocument, {
          input: {
            name: `fault task ${Math.random().toString(36).slice(2, 10)}`,
            bindingIds: executors.map((e) => e.bindingId),
            ...input,
          },
        });
        return createTask.id;
      },
      async runTask(taskId) {
        const { runTask } = await fleet.admin.data(SchedulerRunTaskDocument, { id: taskId });
        return runTask.id;
      },
      async run(id) {
        return (await fleet.admin.data(FaultRunDocument, { id })).taskInstance;
      },
      async runsOf(taskId) {
        const runs: FaultRun[] = [];
        for (let after: string | null = null; ;) {
          const { taskInstances }: FaultRunsPage = await fleet.admin.data(FaultRunsDocument, {
            taskId,
            first: 500,
            after,
          });
          runs.push(...taskInstances.nodes);
          if (!taskInstances.pageInfo.hasNextPage) return runs;
          after = taskInstances.pageInfo.endCursor;
        }
      },
      async logsOf(id, attempt) {
        const lines: FaultLogLine[] = [];
        for (let after: string | null = null; ;) {
          const { logs }: FaultLogPage = (
            await fleet.admin.data(FaultRunLogsDocument, {
              id,
              attempt: attempt ?? null,
              first: 500,
              after,
            })
          ).taskInstance;
          lines.push(...logs.nodes);
          if (!logs.pageInfo.hasNextPage) return lines;
          after = logs.pageInfo.endCursor;
        }
      },
      until,
      recordedPids,
      killRecordedPids,
      stop,
    };
    return fleet;
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}

type FaultRunsPage = ResultOf<typeof FaultRunsDocument>;
type FaultLogPage = ResultOf<typeof FaultRunLogsDocument>['taskInstance'];

/** Milliseconds, sorted: p50 / p99 / max (n). */
export function summary(values: number[]): string {
  if (values.length === 0) return 'n=0';
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number): number =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
  return `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${sorted.at(-1)} ms (n=${sorted.length})`;
}

/** `waiting`, or its failure with the end of `process`'s output appended (what it said). */
export async function withOutput<T>(
  waiting: Promise<T>,
  process: { output(): string },
): Promise<T> {
  try {
    return await waiting;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${message}\n--- process output (end) ---\n${process.output().slice(-6000)}`);
  }
}
