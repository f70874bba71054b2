/**
 * graphile-worker baseline for the benchmark suite: the same workloads as graphcron's executors
 * (N processes with a fixed concurrency each), run by graphile-worker with its default settings
 * (LISTEN/NOTIFY, default poll interval, no local queue or batched completion) but for the
 * connection pool: as big as the concurrency, as graphile-worker itself advises (its default of
 * 10 made it warn, and cost it ~8% of its no-op throughput).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  makeWorkerUtils,
  runMigrations,
  type AddJobsJobSpec,
  type WorkerUtils,
} from 'graphile-worker';
import pg from 'pg';
import {
  quietLogger,
  wallClockMs,
  WORKER_PROCESS_CONFIG_ENV,
  type BenchJobPayload,
  type ParentToWorkerMessage,
  type WorkerProcessConfig,
  type WorkerToParentMessage,
} from './graphile-worker-shared.js';
import { summarizeLatency } from '../support/stats.js';

export interface GraphileThroughputOptions {
  /** A fresh, empty database for this run. */
  databaseUrl: string;
  jobs: number;
  /** Jobs run first, untimed, by the same worker processes (JIT, pools and caches warm). */
  warmupJobs: number;
  /** Worker processes. */
  workers: number;
  /** Concurrent jobs per worker process. */
  concurrency: number;
  variant: 'noop' | 'true';
}

export interface GraphileThroughputResult {
  jobs: number;
  seconds: number;
  jobsPerSecond: number;
  databaseTransactionsPerSecond: number;
}

export interface GraphileLatencyOptions {
  /** A fresh, empty database for this run. */
  databaseUrl: string;
  ratePerSecond: number;
  durationSeconds: number;
  /** Jobs added first at `warmup.ratePerSecond`, untimed, to the same worker processes. */
  warmup: { jobs: number; ratePerSecond: number };
  /**
   * Seconds of jobs at `ratePerSecond` just before the measured ones, in the same schedule, and
   * measured apart (graphcron's latency workload does the same).
   */
  leadInSeconds: number;
  workers: number;
  concurrency: number;
}

export interface GraphileLatencyResult {
  /** Jobs measured; also the number enqueued. */
  samples: number;
  /** From `addJob` resolving to the handler starting. */
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  /**
   * From calling `addJob` to it resolving. Beyond a few milliseconds the database is not keeping
   * up with the rate, and the figures above were taken under overload: the enqueuing process
   * then also notices its commits late, which can make start latencies come out negative.
   */
  addJobP50Ms: number;
  addJobP99Ms: number;
  /** From calling `addJob` to the handler starting: the producer's whole wait. */
  calledToStartP50Ms: number;
  calledToStartP99Ms: number;
  /** `addJob` resolved → started, p99, over the lead-in's jobs. */
  leadInP99Ms: number;
}

// Large enough that enqueueing is a small share of the run, small enough that the workers start
// on the first batch while the rest is still being inserted.
const ENQUEUE_BATCH_SIZE = 1000;
const WORKER_STARTUP_TIMEOUT_MS = 60_000;
const WORKER_SHUTDOWN_TIMEOUT_MS = 30_000;
const QUEUE_DRAIN_POLL_MS = 10;
// Lets each worker's first (empty) job fetches finish, so that measuring starts with idle workers.
const IDLE_SETTLE_MS = 500;

/**
 * Enqueues `jobs` jobs with `addJobs` and measures from the start of the enqueue until every job
 * has been handled and its completion committed.
 */
export async function graphileThroughput(
  options: GraphileThroughputOptions,
): Promise<GraphileThroughputResult> {
  const { databaseUrl, jobs, variant } = options;
  assertPositiveInteger('jobs', jobs);
  const taskIdentifier = uniqueTaskIdentifier();
  await runMigrations({ connectionString: databaseUrl, logger: quietLogger });
  const group = await WorkerProcessGroup.start(options.workers, {
    databaseUrl,
    concurrency: options.concurrency,
    taskIdentifier,
    work: variant,
    reportStartTimes: false,
  });
  try {
    const utils = await openWorkerUtils(databaseUrl);
    let seconds: number;
    let transactionsBefore: number;
    const addJobs = async (total: number): Promise<void> => {
      for (let first = 0; first < total; first += ENQUEUE_BATCH_SIZE) {
        const count = Math.min(ENQUEUE_BATCH_SIZE, total - first);
        const specs: AddJobsJobSpec[] = Array.from({ length: count }, () => ({
          identifier: taskIdentifier,
          payload: {},
        }));
        await utils.addJobs(specs);
      }
    };
    try {
      const { warmupJobs } = options;
      if (warmupJobs > 0) {
        await addJobs(warmupJobs);
        await group.waitUntil(
          () => group.handled >= warmupJobs,
          jobsTimeoutMs(warmupJobs),
          'all warm-up jobs handled',
        );
        await waitForEmptyQueue(utils);
      }
      await sleep(IDLE_SETTLE_MS);
      transactionsBefore = await readTransactionCount(databaseUrl);
      const startedAt = performance.now();
      await addJobs(jobs);
      await group.waitUntil(
        () => group.handled >= warmupJobs + jobs,
        jobsTimeoutMs(jobs),
        'all jobs handled',
      );
      // Handlers finish before graphile-worker deletes the job; the run ends once it has.
      await waitForEmptyQueue(utils);
      seconds = (performance.now() - startedAt) / 1000;
    } finally {
      await utils.release();
    }
    await group.stop();
    const transactions = (await readSettledTransactionCount(databaseUrl)) - transactionsBefore;
    return {
      jobs,
      seconds,
      jobsPerSecond: jobs / seconds,
      databaseTransactionsPerSecond: transactions / seconds,
    };
  } finally {
    await group.kill();
  }
}

/**
 * With the workers idle, adds one job at a time on a fixed schedule and measures, per job after
 * the lead-in, the time from `addJob` resolving (the insert committed) to its handler starting
 * in a worker.
 */
export async function graphileLatency(
  options: GraphileLatencyOptions,
): Promise<GraphileLatencyResult> {
  const { databaseUrl, ratePerSecond, durationSeconds } = options;
  assertPositive('ratePerSecond', ratePerSecond);
  assertPositive('durationSeconds', durationSeconds);
  const total = Math.round(ratePerSecond * durationSeconds);
  assertPositiveInteger('ratePerSecond * durationSeconds', total);
  const leadInJobs = Math.round(ratePerSecond * options.leadInSeconds);
  // Sequences: the measured jobs first, then the lead-in's, then the warm-up's.
  const scheduled = total + leadInJobs;
  const taskIdentifier = uniqueTaskIdentifier();
  await runMigrations({ connectionString: databaseUrl, logger: quietLogger });
  const group = await WorkerProcessGroup.start(options.workers, {
    databaseUrl,
    concurrency: options.concurrency,
    taskIdentifier,
    work: 'noop',
    reportStartTimes: true,
  });
  try {
    const utils = await openWorkerUtils(databaseUrl);
    const enqueuedAtMs = new Float64Array(scheduled).fill(Number.NaN);
    const addJobMs = new Float64Array(scheduled).fill(Number.NaN);
    try {
      const { warmup } = options;
      if (warmup.jobs > 0) {
        await enqueueOnSchedule(warmup.jobs, 1000 / warmup.ratePerSecond, async (index) => {
          const sequence = scheduled + index;
          await utils.addJob(taskIdentifier, { sequence } satisfies BenchJobPayload);
        });
        await group.waitUntil(
          () => group.startedAtMs.size >= warmup.jobs,
          jobsTimeoutMs(warmup.jobs),
          'all warm-up jobs started',
        );
      }
      await sleep(IDLE_SETTLE_MS);
      await enqueueOnSchedule(scheduled, 1000 / ratePerSecond, async (index) => {
        const sequence = index < leadInJobs ? total + index : index - leadInJobs;
        const payload: BenchJobPayload = { sequence };
        const calledAtMs = wallClockMs();
        await utils.addJob(taskIdentifier, payload);
        const resolvedAtMs = wallClockMs();
        enqueuedAtMs[sequence] = resolvedAtMs;
        addJobMs[sequence] = resolvedAtMs - calledAtMs;
      });
      await group.waitUntil(
        () => group.startedAtMs.size >= warmup.jobs + scheduled,
        jobsTimeoutMs(scheduled),
        'all latency jobs started',
      );
    } finally {
      await utils.release();
    }
    await group.stop();

    const latencies: number[] = [];
    const sinceCalled: number[] = [];
    const leadInLatencies: number[] = [];
    for (const [sequence, startedAtMs] of group.startedAtMs) {
      if (sequence >= scheduled) continue; // a warm-up job
      const enqueued = enqueuedAtMs[sequence];
      if (enqueued === undefined || Number.isNaN(enqueued)) {
        throw new Error(`Worker reported job ${sequence}, which was never enqueued`);
      }
      if (sequence >= total) {
        leadInLatencies.push(startedAtMs - enqueued);
        continue;
      }
      latencies.push(startedAtMs - enqueued);
      sinceCalled.push(startedAtMs - enqueued + addJobMs[sequence]!);
    }
    const started = summarizeLatency(latencies);
    const addJob = summarizeLatency(Array.from(addJobMs.subarray(0, total)));
    const calledToStart = summarizeLatency(sinceCalled);
    return {
      ...started,
      addJobP50Ms: addJob.p50Ms,
      addJobP99Ms: addJob.p99Ms,
      calledToStartP50Ms: calledToStart.p50Ms,
      calledToStartP99Ms: calledToStart.p99Ms,
      leadInP99Ms:
        leadInLatencies.length > 0 ? summarizeLatency(leadInLatencies).p99Ms : Number.NaN,
    };
  } finally {
    await group.kill();
  }
}

/**
 * Calls `enqueue(sequence)` for sequences 0..total-1 at `intervalMs` apart, measured from the
 * start so timer lateness does not lower the rate. Calls do not wait for earlier ones: a slow
 * insert must not hold back the schedule, as it would not for real producers.
 */
async function enqueueOnSchedule(
  total: number,
  intervalMs: number,
  enqueue: (sequence: number) => Promise<void>,
): Promise<void> {
  const inFlight: Promise<void>[] = [];
  let firstError: unknown;
  const startedAt = performance.now();
  let next = 0;
  while (next < total && firstError === undefined) {
    const due = Math.min(total, Math.floor((performance.now() - startedAt) / intervalMs) + 1);
    for (; next < due; next++) {
      // Caught right away: a rejection left pending until Promise.all would crash the process.
      inFlight.push(
        enqueue(next).catch((error: unknown) => {
          firstError ??= error;
        }),
      );
    }
    if (next < total) await sleep(Math.max(0, startedAt + next * intervalMs - performance.now()));
  }
  await Promise.all(inFlight);
  if (firstError !== undefined) throw firstError;
}

/** The worker processes of one run, and what they have reported. */
class WorkerProcessGroup {
  handled = 0;
  /** Handler start times by job sequence (latency runs only). */
  readonly startedAtMs = new Map<number, number>();
  /** Rejects when a worker fails or exits before it is told to stop. */
  readonly failure: Promise<never>;

  private readonly exits: Promise<void>[];
  private readonly progressListeners = new Set<() => void>();
  private stopRequested = false;
  private rejectFailure!: (error: Error) => void;

  private constructor(private readonly children: ChildProcess[]) {
    this.failure = new Promise<never>((_, reject) => {
      this.rejectFailure = reject;
    });
    // Nobody may be waiting when a worker fails; the next wait reports it instead.
    this.failure.catch(() => undefined);
    this.exits = children.map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once('exit', (code, signal) => {
            if (!this.stopRequested || code !== 0) {
              this.rejectFailure(
                new Error(
                  `graphile-worker process ${child.pid} exited with ${signal ?? `code ${code}`}` +
                    (this.stopRequested ? ' while stopping' : ' unexpectedly'),
                ),
              );
            }
            resolve();
          });
        }),
    );
    for (const child of children) {
      child.on('message', (message: WorkerToParentMessage) => this.onMessage(child, message));
      child.once('error', (error) => this.rejectFailure(error));
    }
  }

  /** Spawns the processes and resolves once every one is listening for jobs. */
  static async start(count: number, config: WorkerProcessConfig): Promise<WorkerProcessGroup> {
    assertPositiveInteger('workers', count);
    assertPositiveInteger('concurrency', config.concurrency);
    const script = fileURLToPath(new URL('./graphile-worker-process.js', import.meta.url));
    const children = Array.from({ length: count }, () =>
      spawn(process.execPath, [script], {
        // stdout stays quiet so that a benchmark printing its results there is not disturbed.
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        env: { ...process.env, [WORKER_PROCESS_CONFIG_ENV]: JSON.stringify(config) },
      }),
    );
    const group = new WorkerProcessGroup(children);
    const ready = children.map(
      (child) =>
        new Promise<void>((resolve) => {
          const onMessage = (message: WorkerToParentMessage): void => {
            if (message.type !== 'ready') return;
            child.off('message', onMessage);
            resolve();
          };
          child.on('message', onMessage);
        }),
    );
    try {
      await group.raceFailure(Promise.all(ready), WORKER_STARTUP_TIMEOUT_MS, 'workers ready');
    } catch (error) {
      await group.kill();
      throw error;
    }
    return group;
  }

  /** Resolves once `condition` holds after a progress report; rejects on failure or timeout. */
  async waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (condition()) return;
    let listener: (() => void) | undefined;
    const satisfied = new Promise<void>((resolve) => {
      listener = () => {
        if (condition()) resolve();
      };
      this.progressListeners.add(listener);
    });
    try {
      await this.raceFailure(satisfied, timeoutMs, what);
    } finally {
      if (listener) this.progressListeners.delete(listener);
    }
  }

  /** Graceful shutdown: each worker finishes its running jobs, releases its pool and exits. */
  async stop(): Promise<void> {
    this.stopRequested = true;
    const stopMessage: ParentToWorkerMessage = { type: 'stop' };
    for (const child of this.children) {
      if (child.connected) child.send(stopMessage);
    }
    await this.raceFailure(Promise.all(this.exits), WORKER_SHUTDOWN_TIMEOUT_MS, 'workers stopped');
  }

  /** Kills whatever is still running and waits for it to be gone; a no-op after `stop`. */
  async kill(): Promise<void> {
    this.stopRequested = true;
    for (const child of this.children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await Promise.all(this.exits);
  }

  private onMessage(child: ChildProcess, message: WorkerToParentMessage): void {
    switch (message.type) {
      case 'progress':
        this.handled += message.handled;
        for (const [sequence, startedAtMs] of message.starts) {
          this.startedAtMs.set(sequence, startedAtMs);
        }
        for (const listener of this.progressListeners) listener();
        break;
      case 'failed':
        this.rejectFailure(
          new Error(`graphile-worker process ${child.pid} failed: ${message.message}`),
        );
        break;
      case 'ready':
      case 'stopped':
        break;
    }
  }

  private async raceFailure<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
    const timeout = new AbortController();
    try {
      return await Promise.race([
        promise,
        this.failure,
        sleep(timeoutMs, undefined, { signal: timeout.signal }).then(() => {
          throw new Error(
            `Timed out after ${timeoutMs} ms waiting for ${what} ` +
              `(${this.handled} jobs handled, ${this.startedAtMs.size} start times)`,
          );
        }),
      ]);
    } finally {
      timeout.abort();
    }
  }
}

function openWorkerUtils(databaseUrl: string): Promise<WorkerUtils> {
  return makeWorkerUtils({ connectionString: databaseUrl, logger: quietLogger });
}

async function waitForEmptyQueue(utils: WorkerUtils): Promise<void> {
  for (;;) {
    const remaining = await utils.withPgClient(async (client) => {
      const { rows } = await client.query<{ remaining: number }>(
        'select count(*)::int as remaining from graphile_worker.jobs',
      );
      return rows[0]?.remaining ?? 0;
    });
    if (remaining === 0) return;
    await sleep(QUEUE_DRAIN_POLL_MS);
  }
}

/** Committed plus rolled-back transactions of the database so far, as the statistics show them. */
async function readTransactionCount(databaseUrl: string): Promise<number> {
  // A new connection each time: a session caches its statistics snapshot until its transaction
  // ends, and a fresh backend has nothing of its own pending.
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ transactions: string }>(
      `select (xact_commit + xact_rollback)::text as transactions
         from pg_stat_database where datname = current_database()`,
    );
    return Number(rows[0]?.transactions ?? Number.NaN);
  } finally {
    await client.end();
  }
}

/**
 * Backends publish their transaction counts at most once a second, and an idle backend that
 * published less than a second ago may hold the rest for up to 10 s (PostgreSQL 15+). A backend
 * that exits always publishes first, so once the workers have disconnected and their backends
 * are gone from pg_stat_activity, the counts are complete.
 */
async function readSettledTransactionCount(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const deadline = performance.now() + WORKER_SHUTDOWN_TIMEOUT_MS;
    for (;;) {
      const { rows } = await client.query<{ others: number }>(
        `select count(*)::int as others from pg_stat_activity
          where datname = current_database() and pid <> pg_backend_pid()
            and backend_type = 'client backend'`,
      );
      if ((rows[0]?.others ?? 0) === 0) break;
      if (performance.now() > deadline) {
        throw new Error('Other sessions on the benchmark database did not go away');
      }
      await sleep(QUEUE_DRAIN_POLL_MS);
    }
  } finally {
    await client.end();
  }
  return readTransactionCount(databaseUrl);
}

/** Generous: a stuck run should fail, not hang, but a slow machine should still finish. */
function jobsTimeoutMs(jobs: number): number {
  return 120_000 + jobs * 10;
}

/** Per run, so that jobs left over from another run in the same database are never picked up. */
function uniqueTaskIdentifier(): string {
  return `graphcron_bench_baseline_${randomBytes(4).toString('hex')}`;
}

function assertPositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
}

function assertPositive(name: string, value: number): void {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a positive number, got ${value}`);
  }
}
