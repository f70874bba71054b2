import type { BenchPostgres } from '../support/postgres.js';
import { machineBusyMs } from '../support/process-stats.js';
import { summarizeLatency, type LatencySummary } from '../support/stats.js';
import { createBenchTasks } from '../support/tasks.js';
import { startGraphcronStack, status, type GraphcronStack } from './graphcron-stack.js';

export interface LatencyOptions {
  rates: readonly number[];
  durationSeconds: number;
  executors: number;
  capacity: number;
  /** Runs are spread over this many tasks (one task's runs serialise on its row lock). */
  tasks: number;
  /** Runs made first at `warmup.ratePerSecond`, untimed, by the same processes. */
  warmup: { runs: number; ratePerSecond: number };
  /**
   * Seconds of each rate run before its measured seconds, in the same stream of calls, and not
   * in its headline figures: the latency of a steady rate, not of the step up to it.
   */
  leadInSeconds: number;
}

/**
 * The headline figures (p50Ms … maxMs) are commit → started: from the commit time of the
 * run's `runTask` transaction (`track_commit_timestamp`, read from its audit entry's `xmin`,
 * which no later change of the run rewrites) when the database keeps commit times, else from
 * the runTask response, which comes after the commit (`measuredFrom`).
 */
export interface LatencyResult extends LatencySummary {
  ratePerSecond: number;
  measuredFrom: 'commit' | 'response';
  /**
   * The lead-in: its length, and the same commit → started p99 over its runs, the first ones at
   * this rate after the previous, slower one (or the warm-up).
   */
  leadInSeconds: number;
  leadInP99Ms: number;
  /** runTask response → started, p50/p99 (the headline when commit times are not kept). */
  responseToStartP50Ms: number;
  responseToStartP99Ms: number;
  /** Rate actually offered (runTask calls completed per second of the schedule). */
  achievedPerSecond: number;
  /** runTask round trip (request sent → response), p50/p99. */
  runTaskP50Ms: number;
  runTaskP99Ms: number;
  /**
   * runTask request sent → started, p50/p99: the caller's whole wait. A run placed on its
   * executor by runTask's own statement is sent to it before the response, and can start before
   * the caller hears of the commit (response → started then comes out 0 or below); this counts
   * the statement's time too.
   */
  sentToStartP50Ms: number;
  sentToStartP99Ms: number;
  /**
   * The run's `created_at` (the start of the statement that created it, database clock) →
   * started, p50/p99: from before the commit, where the figure above starts after it.
   */
  createdToStartP50Ms: number;
  createdToStartP99Ms: number;
  /**
   * Where the time goes: runTask response → dispatched (below 0 when runTask placed the run
   * itself), dispatched → started (database clock).
   */
  commitToDispatchP50Ms: number;
  dispatchToStartP50Ms: number;
  /**
   * CPU per run in ms, from the first measured call until every run has finished: the server, the
   * executors together, this bench process, and the rest of the machine (PostgreSQL, mostly,
   * with its background work such as autovacuum; also the kernel's own threads). Each run comes
   * alone at these rates, so this is what an unbatched run costs, where the throughput
   * workload's figures are for batches.
   */
  cpuMsPerRun: CpuPerRun;
}

interface CpuPerRun {
  server: number;
  executors: number;
  bench: number;
  rest: number;
}

interface CpuCounters {
  server: number;
  executors: number;
  bench: number;
  machine: number;
}

/**
 * Workload 2: `runTask` calls on a steady schedule (not a burst), each timed from its commit to
 * the `startedAt` its executor reported, after a lead-in at the same rate. The executors run
 * dry, so the figure is the scheduler's: dispatch, push and start.
 */
export async function graphcronLatency(
  postgres: BenchPostgres,
  options: LatencyOptions,
): Promise<LatencyResult[]> {
  const stack = await startGraphcronStack(postgres, {
    label: 'latency',
    executors: options.executors,
    capacity: options.capacity,
    isDryRun: true,
  });
  try {
    const taskIds = await createBenchTasks(
      stack.graphql,
      Array.from({ length: options.tasks }, (_, index) => ({
        name: `bench latency ${index + 1}`,
        bindingIds: stack.bindingIds,
        routingStrategy: 'LEAST_LOADED',
      })),
    );
    const results: LatencyResult[] = [];
    // Not measured: a fresh server's compiler threads took a tenth of the machine in the first
    // measured rate.
    await warmUp(stack, taskIds, options.warmup);
    for (const rate of options.rates) {
      results.push(
        await measureRate(stack, taskIds, rate, options.durationSeconds, options.leadInSeconds),
      );
    }
    return results;
  } finally {
    await stack.stop();
  }
}

/**
 * Calls runTask on `taskIds` at `rate` for `leadInSeconds` and then `seconds` more without a
 * break, waits until every run has finished, and returns the latencies of the runs of those
 * `seconds` (the lead-in's p99 beside them), and their CPU per run. Only runs of `taskIds` are
 * waited for: other tasks may have runs that cannot finish (the blocked-backlog workload).
 */
export async function measureRate(
  stack: GraphcronStack,
  taskIds: readonly string[],
  rate: number,
  seconds: number,
  leadInSeconds = 0,
): Promise<LatencyResult> {
  const cpuCounters = (): CpuCounters => {
    const { user, system } = process.cpuUsage();
    return {
      server: stack.serverCpuMs(),
      executors: stack.executorsCpuMs(),
      bench: (user + system) / 1000,
      machine: machineBusyMs(),
    };
  };
  const leadInRuns = Math.round(rate * leadInSeconds);
  let cpuBefore = cpuCounters();
  const calls = await runAtRate(stack.graphql, taskIds, rate, leadInSeconds + seconds, {
    index: leadInRuns,
    reached: () => (cpuBefore = cpuCounters()),
  });
  const leadIn = calls.slice(0, leadInRuns);
  const sent = calls.slice(leadInRuns);
  const ids = calls.map((run) => run.id);
  await stack.db.waitFor(
    async () =>
      Number(
        (
          await stack.db.rows<{ n: string }>(
            `select count(*) as n from task_instances where id = any($1::bigint[]) and started_at is not null`,
            [ids],
          )
        )[0]!.n,
      ) >= ids.length,
    120_000,
    100,
  );
  const rows = await stack.db.rows<{
    id: string;
    started_at: Date;
    dispatched_at: Date;
    created_at: Date;
    committed_at: Date | null;
  }>(
    `select i.id::text as id, i.started_at, i.dispatched_at, i.created_at,
            case when current_setting('track_commit_timestamp')::boolean
                 then pg_xact_commit_timestamp(a.xmin) end as committed_at
       from task_instances i
       left join audit_entries a
         on a.entity_type = 'TaskInstance' and a.entity_id = i.id::text and a.action = 'runTask'
      where i.id = any($1::bigint[])`,
    [ids],
  );
  const dispatchedAt = new Map(rows.map((row) => [row.id, row.dispatched_at.getTime()]));
  const startedAt = new Map(rows.map((row) => [row.id, row.started_at.getTime()]));
  const createdAt = new Map(rows.map((row) => [row.id, row.created_at.getTime()]));
  const committedAt = new Map(rows.map((row) => [row.id, row.committed_at?.getTime()]));
  const isFromCommit = rows.every((row) => row.committed_at !== null);
  /** From `from` to each run's start, summarised. */
  const untilStarted = (runs: readonly SentRun[], from: (run: SentRun) => number) =>
    summarizeLatency(
      runs
        .map((run) => (startedAt.get(run.id) ?? Number.NaN) - from(run))
        .filter((value) => !Number.isNaN(value)),
    );
  /** The headline's start: the commit, or the response without commit times. */
  const committed = (run: SentRun): number =>
    isFromCommit ? committedAt.get(run.id)! : run.respondedAt;
  const responseToStart = untilStarted(sent, (run) => run.respondedAt);
  const roundTrips = summarizeLatency(sent.map((run) => run.respondedAt - run.sentAt));
  const sentToStart = untilStarted(sent, (run) => run.sentAt);
  const createdToStart = untilStarted(sent, (run) => createdAt.get(run.id)!);
  const spanSeconds =
    (Math.max(...sent.map((run) => run.respondedAt)) - Math.min(...sent.map((run) => run.sentAt))) /
    1000;
  const result = {
    ratePerSecond: rate,
    achievedPerSecond: Math.round(sent.length / spanSeconds),
    ...untilStarted(sent, committed),
    measuredFrom: isFromCommit ? ('commit' as const) : ('response' as const),
    leadInSeconds,
    leadInP99Ms: leadIn.length > 0 ? untilStarted(leadIn, committed).p99Ms : Number.NaN,
    responseToStartP50Ms: responseToStart.p50Ms,
    responseToStartP99Ms: responseToStart.p99Ms,
    runTaskP50Ms: roundTrips.p50Ms,
    runTaskP99Ms: roundTrips.p99Ms,
    sentToStartP50Ms: sentToStart.p50Ms,
    sentToStartP99Ms: sentToStart.p99Ms,
    createdToStartP50Ms: createdToStart.p50Ms,
    createdToStartP99Ms: createdToStart.p99Ms,
    commitToDispatchP50Ms: summarizeLatency(
      sent.map((run) => dispatchedAt.get(run.id)! - run.respondedAt),
    ).p50Ms,
    dispatchToStartP50Ms: untilStarted(sent, (run) => dispatchedAt.get(run.id)!).p50Ms,
  };
  // Also lets the next rate start from an idle system.
  await waitUntilIdle(stack, taskIds);
  return { ...result, cpuMsPerRun: cpuPerRun(cpuBefore, cpuCounters(), sent.length) };
}

/** Untimed runs first: connections, caches, and the JIT (a fresh server compiles for seconds). */
export async function warmUp(
  stack: GraphcronStack,
  taskIds: readonly string[],
  warmup: LatencyOptions['warmup'],
): Promise<void> {
  if (warmup.runs === 0) return;
  await runAtRate(stack.graphql, taskIds, warmup.ratePerSecond, warmup.runs / warmup.ratePerSecond);
  await waitUntilIdle(stack, taskIds);
}

function cpuPerRun(before: CpuCounters, after: CpuCounters, runs: number): CpuPerRun {
  const used = (key: keyof CpuCounters): number => after[key] - before[key];
  const perRun = (ms: number): number => Math.round((ms / runs) * 100) / 100;
  return {
    server: perRun(used('server')),
    executors: perRun(used('executors')),
    bench: perRun(used('bench')),
    rest: perRun(used('machine') - used('server') - used('executors') - used('bench')),
  };
}

/** Resolves once every run of `taskIds` has finished. */
async function waitUntilIdle(stack: GraphcronStack, taskIds: readonly string[]): Promise<void> {
  await stack.db.waitFor(
    async () =>
      Number(
        (
          await stack.db.rows<{ n: string }>(
            `select count(*) as n from task_instances
              where status <> ${status.FINISHED} and task_id = any($1::int[])`,
            [taskIds],
          )
        )[0]!.n,
      ) === 0,
    60_000,
    100,
  );
}

interface SentRun {
  id: string;
  sentAt: number;
  respondedAt: number;
}

/**
 * Calls runTask `rate` times a second for `seconds`, on schedule, without waiting for answers;
 * `mark.reached` is called just before call number `mark.index` (from 0) is made.
 */
async function runAtRate(
  graphql: { request<T>(query: string, variables?: Record<string, unknown>): Promise<T> },
  taskIds: readonly string[],
  rate: number,
  seconds: number,
  mark?: { index: number; reached: () => void },
): Promise<SentRun[]> {
  const total = Math.round(rate * seconds);
  const started = performance.now();
  const pending: Promise<SentRun>[] = [];
  while (pending.length < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
    while (pending.length < due) {
      if (pending.length === mark?.index) mark.reached();
      const taskId = taskIds[pending.length % taskIds.length]!;
      const sentAt = Date.now();
      pending.push(
        graphql
          .request<{ runTask: { id: string } }>('mutation ($id: ID!) { runTask(id: $id) { id } }', {
            id: taskId,
          })
          .then(({ runTask }) => ({ id: runTask.id, sentAt, respondedAt: Date.now() })),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return Promise.all(pending);
}
