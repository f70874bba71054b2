import 'reflect-metadata';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { graphileLatency, graphileThroughput } from './baseline/graphile-worker.js';
import { startBenchPostgres, type BenchPostgres } from './support/postgres.js';
import { median, medianRun } from './support/stats.js';
import { graphcronBlockedBacklog } from './workloads/blocked-backlog.js';
import { graphcronCronPrecision } from './workloads/cron-precision.js';
import { graphcronExecutorScale } from './workloads/executor-scale.js';
import { graphcronLatency, type LatencyResult } from './workloads/latency.js';
import { graphcronThroughput, round } from './workloads/throughput.js';
import { graphcronThunderingHerd } from './workloads/thundering-herd.js';

/**
 * `npm run bench`: every workload of the benchmark, graphcron and graphile-worker on the same
 * PostgreSQL in the same run, each repeated BENCH_RUNS times (medians reported). Prints a table
 * and writes bench/results/latest.json. Settings (environment):
 *   BENCH_RUNS (3), BENCH_WORKLOADS (throughput,latency,backlog,cron,herd,scale), BENCH_QUICK=1 (small
 *   sizes, for trying the bench out), BENCH_EXECUTORS (8), BENCH_CAPACITY (16: throughput and
 *   latency, both systems), BENCH_SCHEDULE_CAPACITY (256: cron and herd), BENCH_RATES,
 *   BENCH_DATABASE_URL (else an embedded PostgreSQL), BENCH_PROFILE=1 (CPU profiles),
 *   BENCH_THROUGHPUT_VARIANTS (noop,true), BENCH_BASELINE=0 (skip graphile-worker: tries only),
 *   BENCH_SERVER_NODE_ARGS (extra node options for graphcron's server), BENCH_THROUGHPUT_WARMUP
 *   (4,000: untimed runs before the timed ones, both systems). Latency: 2,000 untimed runs at
 *   200/s first, and each rate run BENCH_LATENCY_LEAD_IN_SECONDS (10) before its measured
 *   seconds, both systems. BENCH_BACKLOG_RATE (100: the blocked-backlog workload's rate).
 */
const env = process.env;
const isQuick = env.BENCH_QUICK === '1';
const runs = Number(env.BENCH_RUNS ?? (isQuick ? 1 : 3));
const executors = Number(env.BENCH_EXECUTORS ?? 8);
const capacity = Number(env.BENCH_CAPACITY ?? 16);
/**
 * Cron and herd measure when runs start, not how many run at once: their executors get room for
 * a whole second's fires (a dry run holds its slot only until its report lands).
 */
const scheduleCapacity = Number(env.BENCH_SCHEDULE_CAPACITY ?? 256);
const workloads = new Set(
  (env.BENCH_WORKLOADS ?? 'throughput,latency,backlog,cron,herd,scale')
    .split(',')
    .map((w) => w.trim()),
);
const throughputVariants = (env.BENCH_THROUGHPUT_VARIANTS ?? 'noop,true')
  .split(',')
  .map((v) => v.trim())
  .filter((v): v is 'noop' | 'true' => v === 'noop' || v === 'true');
const sizes = {
  instances: isQuick ? 2_000 : 20_000,
  // Both systems run this many first, untimed, in the same processes: a fresh process spends
  // its first seconds compiling (the server's compiler threads were ~11% of the machine in a
  // 12 s no-op run), which a long-running deployment does once.
  throughputWarmup: Number(env.BENCH_THROUGHPUT_WARMUP ?? (isQuick ? 400 : 4_000)),
  latencySeconds: isQuick ? 3 : 10,
  // Both systems, before the measured rates (graphile-worker before each: its workers are
  // started per rate), in the same processes.
  latencyWarmup: { runs: isQuick ? 200 : 2_000, ratePerSecond: 200 },
  // Each rate, both systems, just before its measured seconds and in the same stream: what is
  // measured is a steady rate, not the step up to it from the slower rate before it (the first
  // seconds after a step, reported apart, had graphcron's p99 at 500/s 20-35 ms against mostly 8-15).
  latencyLeadInSeconds: Number(env.BENCH_LATENCY_LEAD_IN_SECONDS ?? (isQuick ? 2 : 10)),
  rates: (env.BENCH_RATES ?? '100,500,1000').split(',').map(Number),
  backlog: isQuick ? 2_000 : 10_000,
  backlogRate: Number(env.BENCH_BACKLOG_RATE ?? 100),
  cronTasks: isQuick ? 100 : 1_000,
  cronSeconds: isQuick ? 10 : 60,
  cronLeadSeconds: Number(env.BENCH_CRON_LEAD_SECONDS ?? (isQuick ? 10 : 30)),
  herdTasks: isQuick ? 1_000 : 10_000,
  herdLeadSeconds: Number(env.BENCH_HERD_LEAD_SECONDS ?? (isQuick ? 15 : 90)),
  connections: isQuick ? 100 : 1_000,
  pushes: isQuick ? 2_000 : 20_000,
};

type Row = [
  workload: string,
  graphcron: string,
  graphileWorker: string,
  ratio: string,
  target: string,
];

async function repeat<T>(label: string, run: () => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let index = 1; index <= runs; index++) {
    const started = Date.now();
    const result = await run();
    console.error(
      `  ${label} ${index}/${runs} (${Math.round((Date.now() - started) / 1000)} s): ${JSON.stringify(result)}`,
    );
    results.push(result);
  }
  return results;
}

/** The graphile-worker baseline, unless BENCH_BASELINE=0 (for quick graphcron-only tries). */
async function repeatBaseline<T>(label: string, run: () => Promise<T>): Promise<T[]> {
  return env.BENCH_BASELINE === '0' ? [] : repeat(label, run);
}

async function main(postgres: BenchPostgres): Promise<void> {
  const conditions = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    ...(await postgres.conditions()),
    executors,
    capacityPerExecutor: capacity,
    capacityPerExecutorCronAndHerd: scheduleCapacity,
    graphileWorker: { workerProcesses: executors, concurrencyPerProcess: capacity },
    throughputWarmupRuns: sizes.throughputWarmup,
    latencyWarmup: sizes.latencyWarmup,
    latencyLeadInSeconds: sizes.latencyLeadInSeconds,
    runsPerWorkload: runs,
    quick: isQuick,
  };
  console.error(`conditions: ${JSON.stringify(conditions)}`);
  const results: Record<string, unknown> = {};
  const rows: Row[] = [];
  const ratio = (a: number, b: number): string => (b > 0 ? `${round(a / b, 2)}×` : '–');

  if (workloads.has('throughput')) {
    for (const variant of throughputVariants) {
      const ours = await repeat(`graphcron throughput ${variant}`, () =>
        graphcronThroughput(postgres, {
          instances: sizes.instances,
          warmupInstances: sizes.throughputWarmup,
          executors,
          capacity,
          variant,
          timeoutMs: 900_000,
        }),
      );
      const theirs = await repeatBaseline(`graphile-worker throughput ${variant}`, async () => {
        const database = await postgres.createDatabase(`graphile_${variant}`);
        try {
          return await graphileThroughput({
            databaseUrl: database.url,
            jobs: sizes.instances,
            warmupJobs: sizes.throughputWarmup,
            workers: executors,
            concurrency: capacity,
            variant,
          });
        } finally {
          await database.drop();
        }
      });
      const oursMedian = median(ours.map((r) => r.instancesPerSecond));
      const theirsMedian = Math.round(median(theirs.map((r) => r.jobsPerSecond)));
      results[`throughput_${variant}`] = {
        graphcron: { medianPerSecond: oursMedian, runs: ours },
        graphileWorker: { medianPerSecond: theirsMedian, runs: theirs },
        ratio: round(oursMedian / theirsMedian, 2),
      };
      rows.push([
        `throughput, ${variant === 'noop' ? 'no-op (executor --dry-run)' : 'SHELL `true`'}, ${sizes.instances} runs (runs/s; db tx/s)`,
        `${oursMedian} (${median(ours.map((r) => r.databaseTransactionsPerSecond))} tx/s)`,
        `${theirsMedian} (${Math.round(median(theirs.map((r) => r.databaseTransactionsPerSecond)))} tx/s)`,
        ratio(oursMedian, theirsMedian),
        variant === 'noop' ? '≥ 2,000/s and ≥ graphile-worker' : '',
      ]);
      save(conditions, rows, results, false);
    }
  }

  if (workloads.has('latency')) {
    const ours = await repeat('graphcron latency', () =>
      graphcronLatency(postgres, {
        rates: sizes.rates,
        durationSeconds: sizes.latencySeconds,
        executors,
        capacity,
        tasks: 16,
        warmup: sizes.latencyWarmup,
        leadInSeconds: sizes.latencyLeadInSeconds,
      }),
    );
    const theirs = await repeatBaseline('graphile-worker latency', async () => {
      const perRate = [];
      for (const rate of sizes.rates) {
        const database = await postgres.createDatabase('graphile_latency');
        try {
          perRate.push({
            ratePerSecond: rate,
            ...(await graphileLatency({
              databaseUrl: database.url,
              ratePerSecond: rate,
              durationSeconds: sizes.latencySeconds,
              warmup: {
                jobs: sizes.latencyWarmup.runs,
                ratePerSecond: sizes.latencyWarmup.ratePerSecond,
              },
              leadInSeconds: sizes.latencyLeadInSeconds,
              workers: executors,
              concurrency: capacity,
            })),
          });
        } finally {
          await database.drop();
        }
      }
      return perRate;
    });
    const byRate: Record<string, unknown> = {};
    for (const rate of sizes.rates) {
      const oursAtRate = medianRun(
        ours.map((run) => run.find((r) => r.ratePerSecond === rate)!),
        (r: LatencyResult) => r.p99Ms,
      );
      const theirsAtRate =
        theirs.length > 0
          ? medianRun(
              theirs.map((run) => run.find((r) => r.ratePerSecond === rate)!),
              (r) => r.p99Ms,
            )
          : {
              p50Ms: NaN,
              p95Ms: NaN,
              p99Ms: NaN,
              maxMs: NaN,
              calledToStartP50Ms: NaN,
              calledToStartP99Ms: NaN,
              leadInP99Ms: NaN,
            };
      byRate[rate] = {
        graphcron: oursAtRate,
        graphileWorker: theirsAtRate,
        allRuns: { graphcron: ours, graphileWorker: theirs },
      };
      rows.push([
        `latency at ${rate}/s, ${oursAtRate.measuredFrom === 'commit' ? 'commit' : 'runTask response'} → started p50 / p95 / p99 / max (ms)`,
        `${oursAtRate.p50Ms} / ${oursAtRate.p95Ms} / ${oursAtRate.p99Ms} / ${oursAtRate.maxMs}`,
        [theirsAtRate.p50Ms, theirsAtRate.p95Ms, theirsAtRate.p99Ms, theirsAtRate.maxMs]
          .map((v) => round(v, 1))
          .join(' / '),
        `p99 ${ratio(oursAtRate.p99Ms, theirsAtRate.p99Ms)}`,
        rate === 500 ? 'p99 ≤ 25 ms' : '',
      ]);
      rows.push([
        `  runTask / addJob called → started p50 / p99 (ms); graphcron: runTask response → started`,
        `${oursAtRate.sentToStartP50Ms} / ${oursAtRate.sentToStartP99Ms}; ` +
          `${oursAtRate.responseToStartP50Ms} / ${oursAtRate.responseToStartP99Ms}`,
        [theirsAtRate.calledToStartP50Ms, theirsAtRate.calledToStartP99Ms]
          .map((v) => round(v, 1))
          .join(' / '),
        '',
        '',
      ]);
      rows.push([
        `  the ${sizes.latencyLeadInSeconds} s lead-in before it (the step up to this rate): p99 (ms)`,
        String(oursAtRate.leadInP99Ms),
        String(round(theirsAtRate.leadInP99Ms, 1)),
        '',
        '',
      ]);
    }
    results.latency = byRate;
    save(conditions, rows, results, false);
  }

  if (workloads.has('backlog')) {
    const ours = await repeat('graphcron blocked backlog', () =>
      graphcronBlockedBacklog(postgres, {
        backlog: sizes.backlog,
        ratePerSecond: sizes.backlogRate,
        durationSeconds: sizes.latencySeconds,
        executors,
        capacity,
        tasks: 16,
        warmup: sizes.latencyWarmup,
      }),
    );
    const chosen = medianRun(ours, (r) => r.withBacklog.p99Ms);
    results.blockedBacklog = { median: chosen, runs: ours };
    const { withoutBacklog: before, withBacklog: after } = chosen;
    const cpu = (r: LatencyResult): string => `${r.cpuMsPerRun.server} / ${r.cpuMsPerRun.rest}`;
    rows.push([
      `blocked backlog: ${sizes.backlog} runs bound to an offline executor; other tasks' runs at ${sizes.backlogRate}/s without → with it: commit → started p50 / p99 (ms); CPU per run, server / rest of the machine (ms)`,
      `${before.p50Ms} / ${before.p99Ms} → ${after.p50Ms} / ${after.p99Ms}; ${cpu(before)} → ${cpu(after)}`,
      '–',
      '–',
      '',
    ]);
    save(conditions, rows, results, false);
  }

  if (workloads.has('cron')) {
    const ours = await repeat('graphcron cron precision', () =>
      graphcronCronPrecision(postgres, {
        tasks: sizes.cronTasks,
        seconds: sizes.cronSeconds,
        executors,
        capacity: scheduleCapacity,
        leadSeconds: sizes.cronLeadSeconds,
      }),
    );
    const chosen = medianRun(ours, (r) => r.startSkew.p99Ms);
    results.cronPrecision = { median: chosen, runs: ours };
    rows.push([
      `cron: ${sizes.cronTasks} tasks every second for ${sizes.cronSeconds} s: start skew p50 / p99 / max (ms); fires not run (SKIPPED, previous run in flight); lost; duplicated`,
      `${chosen.startSkew.p50Ms} / ${chosen.startSkew.p99Ms} / ${chosen.startSkew.maxMs}; ${chosen.missedFires}; ${Math.max(...ours.map((r) => r.lostFires))}; ${Math.max(...ours.map((r) => r.duplicateFires))}`,
      '–',
      '–',
      'p99 ≤ 100 ms; 0 missed; 0; 0',
    ]);
    save(conditions, rows, results, false);
  }

  if (workloads.has('herd')) {
    const ours = await repeat('graphcron thundering herd', () =>
      graphcronThunderingHerd(postgres, {
        tasks: sizes.herdTasks,
        executors,
        capacity: scheduleCapacity,
        leadSeconds: sizes.herdLeadSeconds,
      }),
    );
    const chosen = medianRun(ours, (r) => r.allStartedSeconds);
    results.thunderingHerd = { median: chosen, runs: ours };
    rows.push([
      `thundering herd: ${sizes.herdTasks} tasks due the same second, all started after (s)`,
      `${chosen.allStartedSeconds} (all fired after ${chosen.allFiredSeconds}; ${chosen.skippedAsMisfires} SKIPPED as misfires)`,
      '–',
      '–',
      '≤ 5 s',
    ]);
    save(conditions, rows, results, false);
  }

  if (workloads.has('scale')) {
    const ours = await repeat('graphcron executor scale', () =>
      graphcronExecutorScale(postgres, {
        connections: sizes.connections,
        idleSeconds: isQuick ? 5 : 20,
        pushes: sizes.pushes,
        heartbeatSeconds: 5,
      }),
    );
    const chosen = medianRun(ours, (r) => r.liveKbPerConnection);
    results.executorScale = { median: chosen, runs: ours };
    rows.push([
      `${sizes.connections} executor connections: server memory per connection (live after GC; RSS); idle CPU; pushes/s`,
      `${chosen.liveKbPerConnection} KB (RSS ${chosen.rssPerConnectionKb} KB); ${chosen.idleServerCores} cores; ${median(ours.map((r) => r.pushesPerSecond))}/s`,
      '–',
      '–',
      '≤ 50 KB per connection',
    ]);
    save(conditions, rows, results, false);
  }

  save(conditions, rows, results, true);
}

/**
 * Writes bench/results/latest.json (after every workload, so a long run's finished workloads
 * are kept if a later one fails); prints the table at the end.
 */
function save(
  conditions: Record<string, unknown> & { cpus: number; cpuModel: string; memoryGb: number },
  rows: Row[],
  results: Record<string, unknown>,
  isComplete: boolean,
): void {
  const table = [
    '| workload | graphcron | graphile-worker | graphcron / graphile-worker | target |',
    '|---|---|---|---|---|',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
  const conditionsLine =
    `${conditions.cpus} × ${conditions.cpuModel}, ${conditions.memoryGb} GB; Node ${String(conditions.node)}; ` +
    `PostgreSQL ${String(conditions.postgresVersion)} (${String(conditions.source)}) on the same machine, ` +
    `synchronous_commit=${String(conditions.synchronousCommit)}, fsync=${String(conditions.fsync)}; ` +
    `${executors} executor processes × capacity ${capacity} (cron and herd: ${scheduleCapacity}); ` +
    `graphile-worker: ${executors} worker processes × concurrency ${capacity} (pool ${capacity}); medians of ${runs} run(s).`;
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(
    'bench/results/latest.json',
    `${JSON.stringify({ generatedAt: new Date().toISOString(), isComplete, conditions, conditionsLine, table, results }, null, 2)}\n`,
  );
  if (isComplete) console.log(`\n${table}\n\n${conditionsLine}\n\nwrote bench/results/latest.json`);
}

const postgres = await startBenchPostgres();
try {
  await main(postgres);
} finally {
  await postgres.stop();
}
