import { cpuTimeMs } from '../support/process-stats.js';
import type { BenchPostgres } from '../support/postgres.js';
import {
  adminGraphql,
  startExecutorFleet,
  startServer,
  type BenchExecutor,
  type ManagedProcess,
} from '../support/graphcron.js';
import type { BenchGraphql } from '../support/graphql.js';
import { MeasurementConnection } from '../support/database-poll.js';

/** Stored status codes (design.md). */
export const status = { RUNNING: 1, FINISHED: 2, SCHEDULED: 10, DISPATCHED: 11, SKIPPED: 12 };

export interface StackOptions {
  label: string;
  executors: number;
  capacity: number;
  isDryRun: boolean;
  serverEnv?: Record<string, string>;
}

/** One server process, its executors and a fresh database: what each workload run measures. */
export interface GraphcronStack {
  readonly databaseUrl: string;
  readonly server: ManagedProcess & { url: string };
  readonly graphql: BenchGraphql;
  readonly executors: BenchExecutor[];
  readonly bindingIds: string[];
  readonly db: MeasurementConnection;
  /** CPU milliseconds the server process has used so far. */
  serverCpuMs(): number;
  /** CPU milliseconds the executor processes have used so far, together. */
  executorsCpuMs(): number;
  /** Stops the server and executors and closes `db`; the database stays (for final stats). */
  stopProcesses(): Promise<void>;
  /** Stops everything and drops the database. */
  stop(): Promise<void>;
}

/** `BENCH_PROFILE=1`: the server writes a V8 CPU profile (.cpuprofile) under bench/results/. */
export function profileArgs(label: string): string[] {
  // BENCH_SERVER_NODE_ARGS: extra node options for the server (e.g. `--import` a tracing hook).
  const extra = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  if (process.env.BENCH_PROFILE !== '1') return extra;
  return [
    ...extra,
    '--cpu-prof',
    '--cpu-prof-dir=bench/results/profiles',
    `--cpu-prof-name=${label}-${Date.now()}.cpuprofile`,
  ];
}

export async function startGraphcronStack(
  postgres: BenchPostgres,
  options: StackOptions,
): Promise<GraphcronStack> {
  const database = await postgres.createDatabase(options.label);
  const cleanups: (() => Promise<unknown>)[] = [() => database.drop()];
  const stopProcesses = async (): Promise<void> => {
    // cleanups[0] drops the database: everything after it, newest first.
    for (const cleanup of cleanups.splice(1).reverse()) await cleanup().catch(() => undefined);
  };
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  };
  try {
    const server = await startServer(database.url, options.serverEnv, profileArgs(options.label));
    cleanups.push(async () => {
      await server.stop('SIGTERM');
      if (process.env.BENCH_DEBUG === '1') console.log(`server output:\n${server.output()}`);
    });
    const graphql = await adminGraphql(server.url);
    const fleet = await startExecutorFleet(server.url, graphql, {
      count: options.executors,
      capacity: options.capacity,
      isDryRun: options.isDryRun,
    });
    cleanups.push(() => fleet.stop());
    const db = await MeasurementConnection.open(database.url);
    cleanups.push(() => db.close());
    return {
      databaseUrl: database.url,
      server,
      graphql,
      executors: fleet.executors,
      bindingIds: fleet.executors.map((executor) => executor.bindingId),
      db,
      serverCpuMs: () => cpuTimeMs(server.pid),
      // Those still running: a workload may stop one (its CPU then leaves the sum).
      executorsCpuMs: () =>
        fleet.executors
          .map((executor) => executor.process)
          .filter(({ child }) => child.exitCode === null && child.signalCode === null)
          .reduce((sum, running) => sum + cpuTimeMs(running.pid), 0),
      stopProcesses,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
