import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SchedulerSetTaskEnabledDocument } from '../generated/graphql.js';
import { adminClient, elapse } from '../e2e/scheduler/cluster.js';
import { createTestDatabase } from '../helpers/test-database.js';
import { startFleet, summary, type Fleet } from './support/fleet.js';
import type { FaultRun } from './support/operations.js';

/**
 * Scenario 2: two server replicas share one database and fire several every-second schedules;
 * one replica is SIGKILLed halfway. Every task must fire once per second, without a miss or a
 * double, across the kill; the survivor's takeover shows as the largest gap between fires.
 */

const taskCount = 5;
const loadSeconds = 20;
const killAfterSeconds = 10;

/** The 10-bit machine id in a snowflake id: which replica inserted the fire. */
function machineOf(id: string): number {
  return Number((BigInt(id) >> 12n) & 1023n);
}

describe('SIGKILL of one of two server replicas under a cron load', () => {
  let fleet: Fleet;

  beforeAll(async () => {
    const database = await createTestDatabase();
    fleet = await startFleet({
      databaseUrl: database.url,
      replicas: 2,
      onStop: () => database.drop(),
    });
  });
  afterAll(async () => {
    await fleet?.stop();
  });

  it('every task fires exactly once per second through the kill: 0 missed, 0 duplicated', async () => {
    const [doomed, survivor] = fleet.servers as [
      (typeof fleet.servers)[0],
      (typeof fleet.servers)[0],
    ];
    // The executors and our client live on the survivor.
    fleet.admin = await adminClient(survivor.url);
    const executors = [
      await fleet.addExecutor({ capacity: 20, via: survivor }),
      await fleet.addExecutor({ capacity: 20, via: survivor }),
    ];
    await fleet.waitOnline(executors);

    const taskIds: string[] = [];
    for (let i = 0; i < taskCount; i++) {
      taskIds.push(
        await fleet.createTask({
          command: 'true',
          cronExpression: '* * * * * *',
          maxParallelRuns: 50,
          overlapPolicy: 'WAIT',
          routingStrategy: 'ROUND_ROBIN',
        }),
      );
    }
    const startedAt = Date.now();
    await elapse(killAfterSeconds * 1000); // the schedule running is the behaviour under test
    const killedAt = Date.now();
    expect(await doomed.stop('SIGKILL')).toBeNull();
    await elapse(Math.max(0, startedAt + loadSeconds * 1000 - Date.now()));
    for (const id of taskIds) {
      await fleet.admin.data(SchedulerSetTaskEnabledDocument, { id, isEnabled: false });
    }

    // Disabling stops new fires; wait for those fired before to end.
    const runsByTask = await fleet.until(
      'every run of every task to end',
      async () => {
        const all = await Promise.all(taskIds.map((id) => fleet.runsOf(id)));
        const inFlight = all
          .flat()
          .filter((r) => ['SCHEDULED', 'DISPATCHED', 'RUNNING'].includes(r.status));
        return inFlight.length === 0 && all;
      },
      30_000,
      250,
    );

    const lines: string[] = [];
    const gapsAcrossKill: number[] = [];
    const creationLag: number[] = [];
    const byMachine = new Map<string, number>();
    let totalFires = 0;
    for (const [index, runs] of runsByTask.entries()) {
      const ordered = [...runs].sort(
        (a, b) => Date.parse(a.scheduledAt!) - Date.parse(b.scheduledAt!),
      );
      const seconds = ordered.map((r) => Date.parse(r.scheduledAt!));
      const duplicated = seconds.length - new Set(seconds).size;
      const missing: string[] = [];
      for (let s = seconds[0]!; s <= seconds.at(-1)!; s += 1000) {
        if (!seconds.includes(s)) missing.push(new Date(s).toISOString());
      }
      const skipped = ordered.filter((r) => r.status === 'SKIPPED');
      const notFinished = ordered.filter(
        (r) => r.status !== 'FINISHED' || r.attempt !== 1 || r.attempts.length > 0,
      );
      // Takeover: the largest gap between consecutive fires, as actually created (the database
      // clock), and the one across the kill.
      const created = ordered.map((r) => Date.parse(r.createdAt));
      const gaps = created.slice(1).map((c, i) => c - created[i]!);
      const acrossKill = gaps.filter(
        (_, i) => created[i]! <= killedAt && created[i + 1]! > killedAt,
      );
      gapsAcrossKill.push(...acrossKill);
      creationLag.push(...ordered.map((r) => Date.parse(r.createdAt) - Date.parse(r.scheduledAt!)));
      for (const run of ordered) {
        const key = `${machineOf(run.id)} ${Date.parse(run.createdAt) < killedAt ? 'before' : 'after'}`;
        byMachine.set(key, (byMachine.get(key) ?? 0) + 1);
      }
      totalFires += ordered.length;
      lines.push(
        `  task ${index + 1}: ${ordered.length} fires over ${(seconds.at(-1)! - seconds[0]!) / 1000 + 1} s, ` +
          `missed ${missing.length}, duplicated ${duplicated}, skipped ${skipped.length}, ` +
          `not FINISHED on attempt 1: ${notFinished.length}, largest gap ${Math.max(...gaps)} ms, ` +
          `gap across the kill ${acrossKill.join('/') || '-'} ms`,
      );
      expect(duplicated, `task ${index + 1} duplicated fires`).toBe(0);
      expect(missing, `task ${index + 1} missed fires`).toEqual([]);
      expect(skipped.map(describeRun), `task ${index + 1} skipped fires`).toEqual([]);
      expect(notFinished.map(describeRun), `task ${index + 1} runs`).toEqual([]);
      // About one fire per second of load on either side of the kill.
      expect(ordered.length).toBeGreaterThanOrEqual(loadSeconds - 3);
    }
    const takeoverMs = Math.max(...gapsAcrossKill);
    console.log(
      [
        `two replicas, ${taskCount} tasks on * * * * * *, SIGKILL of one replica after ${killAfterSeconds} s of ${loadSeconds} s:`,
        ...lines,
        `  fires ${totalFires}; by replica machine id, before/after the kill: ${JSON.stringify(Object.fromEntries(byMachine))}`,
        `  takeover (largest gap between consecutive fires across the kill): ${takeoverMs} ms`,
        `  creation lag (createdAt − scheduledAt): ${summary(creationLag)}`,
      ].join('\n'),
    );
    // A takeover never makes a fire late enough to be a misfire (5 s by default).
    expect(takeoverMs).toBeLessThan(5_000);
  });
});

function describeRun(run: FaultRun): string {
  return `${run.id} ${run.scheduledAt} ${run.status} attempt ${run.attempt} ${run.statusReason ?? ''}`;
}
