import { readFileSync, rmSync } from 'node:fs';
import pg from 'pg';
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
import { GraphqlClient } from '../../helpers/graphql-client.js';
import { startServerProcess, type ServerProcess } from '../../helpers/server-process.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.js';

/**
 * A scheduler cluster for end-to-end tests: real server processes (replicas) on one fresh
 * database, real executor processes registered into one group, an admin client, and a direct
 * database connection to check what the scheduler wrote and to wait for it (LISTEN on the
 * product's own NOTIFY channels: every status change of a run and every online change of an
 * executor notifies, so waits are woken by events, not by sleeping).
 */

const adminPassword = 'e2e-admin-password';

export const statusCode = {
  RUNNING: 1,
  FINISHED: 2,
  ABNORMAL_ENDING: 3,
  TIMEOUT_ENDING: 4,
  MANUAL_CANCELLATION: 5,
  SCHEDULED: 10,
  DISPATCHED: 11,
  SKIPPED: 12,
  UNKNOWN: 81,
} as const;

/** SCHEDULED, DISPATCHED or RUNNING: the run has not ended. */
export function isInFlight(status: number): boolean {
  return (
    status === statusCode.SCHEDULED ||
    status === statusCode.DISPATCHED ||
    status === statusCode.RUNNING
  );
}

export async function adminClient(url: string): Promise<GraphqlClient> {
  const result = await new GraphqlClient(url).raw(
    'mutation($p: String!) { login(username: "admin", password: $p) { accessToken } }',
    { p: adminPassword },
  );
  return new GraphqlClient(
    url,
    (result.data as { login: { accessToken: string } }).login.accessToken,
  );
}

/** Running, or a zombie nobody reaped yet (state Z): a zombie is dead for our purpose. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

export interface ClusterExecutor {
  readonly id: string;
  readonly name: string;
  readonly bindingId: string;
  readonly stateDir: string;
  process: ExecutorProcess;
}

export interface Cluster {
  readonly database: TestDatabase;
  readonly servers: ServerProcess[];
  /** Admin client on `servers[0]` unless `useServer` moved it. */
  admin: GraphqlClient;
  readonly groupId: string;
  readonly executors: ClusterExecutor[];
  /** Registers an executor (through `via`, default servers[0]) and starts it, connected there. */
  addExecutor(options?: {
    capacity?: number;
    via?: ServerProcess;
    name?: string;
  }): Promise<ClusterExecutor>;
  /** Resolves once these executors are online in the database (the dispatcher's view). */
  waitOnline(executors: ClusterExecutor[], timeoutMs?: number): Promise<void>;
  createTask(input: Partial<CreateTaskInput> & { command: string }): Promise<string>;
  runTask(taskId: string): Promise<string>;
  sql<T>(text: string, params?: unknown[]): Promise<T[]>;
  /**
   * Re-evaluates `check` whenever a run or an executor changes (and once at the start), and
   * resolves with its first truthy result; rejects after `timeoutMs` naming `what`.
   */
  until<T>(
    what: string,
    check: () => Promise<T | null | undefined | false>,
    timeoutMs?: number,
  ): Promise<T>;
  stop(): Promise<void>;
}

export async function startCluster(
  options: { replicas?: number; env?: Record<string, string> } = {},
): Promise<Cluster> {
  const database = await createTestDatabase();
  const serverEnv = {
    DATABASE_URL: database.url,
    PORT: '0',
    GRAPHCRON_ADMIN_USERNAME: 'admin',
    GRAPHCRON_ADMIN_PASSWORD: adminPassword,
    GRAPHCRON_LOG_LEVEL: 'warn',
    ...options.env,
  };
  const servers: ServerProcess[] = [];
  const executors: ClusterExecutor[] = [];
  const pool = new pg.Pool({ connectionString: database.url, max: 3 });
  const listener = new pg.Client({ connectionString: database.url });
  let changes = 0;
  const wakers = new Set<() => void>();
  // A connection ended under us (the database dropped at the end) is not a test failure.
  listener.on('error', () => undefined);
  pool.on('error', () => undefined);
  listener.on('notification', () => {
    changes++;
    for (const wake of wakers) wake();
  });
  const stop = async (): Promise<void> => {
    for (const executor of executors) await executor.process.stop('SIGKILL');
    for (const server of servers) await server.stop();
    await listener.end().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await database.drop();
    for (const executor of executors) rmSync(executor.stateDir, { recursive: true, force: true });
  };
  try {
    // The first replica migrates nothing (the template is migrated) but seeds the admin: start
    // it alone, then the others together.
    servers.push(await startServerProcess(serverEnv));
    servers.push(
      ...(await Promise.all(
        Array.from({ length: (options.replicas ?? 1) - 1 }, () => startServerProcess(serverEnv)),
      )),
    );
    await listener.connect();
    await listener.query('LISTEN graphcron_instances');
    await listener.query('LISTEN graphcron_executors');
    const admin = await adminClient(servers[0]!.url);
    const { createExecutorGroup } = await admin.data(CreateExecutorGroupDocument, {
      input: { name: 'scheduler-e2e' },
    });
    const groupId = createExecutorGroup.id;

    const sql = async <T>(text: string, params: unknown[] = []): Promise<T[]> =>
      (await pool.query(text, params)).rows as T[];

    const until: Cluster['until'] = async (what, check, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const seen = changes;
        const result = await check();
        if (result) return result;
        if (changes !== seen) continue; // something changed while we looked: look again
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(timer);
            wakers.delete(done);
            resolve();
          };
          const timer = setTimeout(done, remaining);
          wakers.add(done);
        });
      }
    };

    const cluster: Cluster = {
      database,
      servers,
      admin,
      groupId,
      executors,
      async addExecutor({ capacity = 16, via = servers[0]!, name } = {}) {
        const client = via === servers[0] ? cluster.admin : await adminClient(via.url);
        const executorName = name ?? `e2e-executor-${executors.length + 1}`;
        const enrolled = await enrollExecutor({
          client,
          serverUrl: via.url,
          groupId,
          name: executorName,
          capacity,
        });
        const { stateDir } = enrolled;
        const process = await startExecutorProcess(stateDir, {
          GRAPHCRON_EXECUTOR_CAPACITY: String(capacity),
        });
        const executor: ClusterExecutor = {
          id: enrolled.id,
          name: executorName,
          bindingId: enrolled.bindingId,
          stateDir,
          process,
        };
        executors.push(executor);
        return executor;
      },
      async waitOnline(list, timeoutMs = 15_000) {
        const ids = list.map((e) => Number(e.id));
        await until(
          `executors ${ids.join(', ')} online`,
          async () => {
            const [row] = await sql<{ n: number }>(
              'select count(*)::int as n from executors where id = any($1::int[]) and is_online',
              [ids],
            );
            return row!.n === ids.length;
          },
          timeoutMs,
        );
      },
      async createTask(input) {
        const { createTask } = await cluster.admin.data(SchedulerCreateTaskDocument, {
          input: {
            name: `scheduler e2e ${Math.random().toString(36).slice(2, 10)}`,
            bindingIds: executors.map((e) => e.bindingId),
            ...input,
          },
        });
        return createTask.id;
      },
      async runTask(taskId) {
        const { runTask } = await cluster.admin.data(SchedulerRunTaskDocument, { id: taskId });
        return runTask.id;
      },
      sql,
      until,
      stop,
    };
    return cluster;
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}

/** `p` in 0..1 of sorted numbers (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** Resolves after `ms`: only where time passing is itself the behaviour under test. */
export function elapse(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
