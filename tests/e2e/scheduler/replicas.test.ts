import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SchedulerSetTaskEnabledDocument } from '../../generated/graphql.js';
import {
  adminClient,
  elapse,
  percentile,
  startCluster,
  statusCode,
  type Cluster,
} from './cluster.js';

const { SCHEDULED, DISPATCHED, RUNNING, FINISHED, SKIPPED } = statusCode;

interface FireRow {
  id: string;
  scheduled_at: Date;
  created_at: Date;
  dispatched_at: Date | null;
  started_at: Date | null;
  status: number;
  status_reason: string | null;
}

/** Milliseconds, sorted: p50 / p99 / max. */
function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `p50 ${percentile(sorted, 0.5)} ms, p99 ${percentile(sorted, 0.99)} ms, max ${sorted.at(-1)} ms (n=${sorted.length})`;
}

describe('two server replicas firing one every-second schedule', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    // GRAPHCRON_MISFIRE_THRESHOLD_SECONDS stays at its default (5 s).
    cluster = await startCluster({ replicas: 2 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('every second fires exactly once, through the SIGKILL of one replica, and nearly all runs finish', async () => {
    const [doomed, survivor] = cluster.servers as [
      (typeof cluster.servers)[0],
      (typeof cluster.servers)[0],
    ];
    // The executor (and our admin client) live on the survivor.
    cluster.admin = await adminClient(survivor.url);
    const executor = await cluster.addExecutor({ capacity: 10, via: survivor });
    await cluster.waitOnline([executor]);

    const taskId = await cluster.createTask({
      command: 'true',
      cronExpression: '* * * * * *',
      maxParallelRuns: 50,
      overlapPolicy: 'WAIT',
    });
    const startedAt = Date.now();
    await elapse(10_000); // the schedule running is the behaviour under test
    expect(await doomed.stop('SIGKILL')).toBeNull();
    const killedAt = new Date();
    await elapse(Math.max(0, startedAt + 20_000 - Date.now()));
    await cluster.admin.data(SchedulerSetTaskEnabledDocument, { id: taskId, isEnabled: false });

    // Disabling stops new fires; wait for those fired before it to end.
    await cluster.until('every run of the task to end', async () => {
      const [row] = await cluster.sql<{ n: number }>(
        `select count(*)::int as n from task_instances
          where task_id = $1 and status in (${SCHEDULED}, ${DISPATCHED}, ${RUNNING})`,
        [taskId],
      );
      return row!.n === 0;
    });

    const rows = await cluster.sql<FireRow>(
      `select id::text, scheduled_at, created_at, dispatched_at, started_at, status, status_reason
         from task_instances where task_id = $1 order by scheduled_at`,
      [taskId],
    );
    expect(rows.length).toBeGreaterThanOrEqual(17);

    // Exactly one row per scheduled second: none doubled, none missing (even across the kill).
    const seconds = rows.map((r) => r.scheduled_at.getTime());
    expect(new Set(seconds).size).toBe(seconds.length);
    for (const s of seconds) expect(s % 1000).toBe(0);
    const missing: string[] = [];
    for (let s = seconds[0]!; s <= seconds.at(-1)!; s += 1000) {
      if (!seconds.includes(s)) missing.push(new Date(s).toISOString());
    }
    expect(missing).toEqual([]);

    // Runs (not SKIPPED fires) keep coming: no gap of 5 s or more, in particular at the kill.
    const runSeconds = rows
      .filter((r) => r.status !== SKIPPED)
      .map((r) => r.scheduled_at.getTime());
    const largestGapMs = Math.max(...runSeconds.slice(1).map((s, i) => s - runSeconds[i]!));
    expect(largestGapMs).toBeLessThan(5_000);

    const finished = rows.filter((r) => r.status === FINISHED).length;
    const notFinished = rows.filter((r) => r.status !== FINISHED);
    expect(notFinished.length, JSON.stringify(notFinished)).toBeLessThanOrEqual(1);
    expect(finished).toBeGreaterThanOrEqual(rows.length - 1);

    // Which replica inserted each fire: the snowflake id's 10-bit machine id.
    const byMachine = new Map<number, number>();
    for (const r of rows) {
      const machine = Number((BigInt(r.id) >> 12n) & 1023n);
      byMachine.set(machine, (byMachine.get(machine) ?? 0) + 1);
    }
    const started = rows.filter((r) => r.started_at);
    const dispatched = rows.filter((r) => r.dispatched_at);
    const fireToStart = started.map((r) => r.started_at!.getTime() - r.scheduled_at.getTime());
    const creationSkew = rows.map((r) => r.created_at.getTime() - r.scheduled_at.getTime());
    const dispatchSkew = dispatched.map(
      (r) => r.dispatched_at!.getTime() - r.scheduled_at.getTime(),
    );
    const aroundKill = rows.filter(
      (r) => Math.abs(r.scheduled_at.getTime() - killedAt.getTime()) <= 3_000,
    );
    console.log(
      [
        `two replicas, cron * * * * * *, SIGKILL of one replica at ${killedAt.toISOString()}:`,
        `  fires ${rows.length} (${seconds.length} distinct seconds, ${missing.length} missing), ` +
          `FINISHED ${finished}, by replica machine id ${JSON.stringify(Object.fromEntries(byMachine))}`,
        `  largest gap between runs: ${largestGapMs} ms`,
        `  fire → start latency (started_at − scheduled_at): ${summary(fireToStart)}`,
        `  creation skew (created_at − scheduled_at): ${summary(creationSkew)}`,
        `  dispatch skew (dispatched_at − scheduled_at): ${summary(dispatchSkew)}`,
        `  fires within 3 s of the kill, creation skew: ${aroundKill
          .map((r) => `${r.created_at.getTime() - r.scheduled_at.getTime()} ms`)
          .join(', ')}`,
      ].join('\n'),
    );
  }, 60_000);
});
