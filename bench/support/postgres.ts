import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { admin, databaseUrlFor } from '../../src/database/scratch-database.js';

export interface BenchDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

export interface PostgresConditions {
  postgresVersion: string;
  synchronousCommit: string;
  fsync: string;
  sharedBuffers: string;
  maxConnections: number;
  /** 'on' gives graphcron's latency from each run's commit (else from the runTask response). */
  trackCommitTimestamp: string;
  source: 'embedded' | 'BENCH_DATABASE_URL';
}

export interface BenchPostgres {
  readonly serverUrl: string;
  /** An empty database for one workload run; graphcron's servers migrate it at start. */
  createDatabase(label: string): Promise<BenchDatabase>;
  conditions(): Promise<PostgresConditions>;
  stop(): Promise<void>;
}

/**
 * The PostgreSQL the benchmarks run on: BENCH_DATABASE_URL's server if set (a superuser, so it
 * can create databases), else an embedded one in a temporary folder, started with the
 * PostgreSQL defaults (durable commits), as a user's `npm start` gets.
 */
export async function startBenchPostgres(): Promise<BenchPostgres> {
  const external = process.env.BENCH_DATABASE_URL?.trim();
  let folder: string | undefined;
  let stopEmbedded: (() => Promise<void>) | undefined;
  let serverUrl: string;
  if (external) {
    serverUrl = external;
  } else {
    // Under the system temp folder, which the `postgres` user can enter when we run as root.
    folder = mkdtempSync(path.join(tmpdir(), 'graphcron-bench-'));
    chmodSync(folder, 0o755);
    // Commit times, so that latency is measured from a run's commit (see latency.ts).
    const embedded = await startEmbeddedPostgres({
      folder,
      settings: { track_commit_timestamp: 'on' },
    });
    serverUrl = embedded.url;
    stopEmbedded = () => embedded.stop();
  }
  return {
    serverUrl,
    async createDatabase(label) {
      const name = `graphcron_bench_${label.replace(/\W/g, '_')}_${randomBytes(3).toString('hex')}`;
      await admin(serverUrl, `CREATE DATABASE ${name}`);
      return {
        url: databaseUrlFor(serverUrl, name),
        // BENCH_KEEP_DATABASES=1 leaves them for inspection (with BENCH_DATABASE_URL).
        drop: () =>
          process.env.BENCH_KEEP_DATABASES === '1'
            ? Promise.resolve()
            : admin(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
      };
    },
    async conditions() {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      try {
        const setting = async (name: string): Promise<string> =>
          (await client.query<{ value: string }>(`select current_setting($1) as value`, [name]))
            .rows[0]!.value;
        return {
          postgresVersion: await setting('server_version'),
          synchronousCommit: await setting('synchronous_commit'),
          fsync: await setting('fsync'),
          sharedBuffers: await setting('shared_buffers'),
          maxConnections: Number(await setting('max_connections')),
          trackCommitTimestamp: await setting('track_commit_timestamp'),
          source: external ? 'BENCH_DATABASE_URL' : 'embedded',
        };
      } finally {
        await client.end();
      }
    },
    async stop() {
      await stopEmbedded?.();
      if (folder) rmSync(folder, { recursive: true, force: true });
    },
  };
}

/** Committed plus rolled-back transactions of one database so far (pg_stat_database). */
export async function transactionCount(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    // Backends report their counters at most once a second; force this one's and wait for the
    // others' (PostgreSQL 15+ flushes pending stats within about a second).
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const { rows } = await client.query<{ n: string }>(
      `select xact_commit + xact_rollback as n from pg_stat_database where datname = current_database()`,
    );
    return Number(rows[0]!.n);
  } finally {
    await client.end();
  }
}
