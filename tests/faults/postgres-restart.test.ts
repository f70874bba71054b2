import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SchedulerSetTaskEnabledDocument } from '../generated/graphql.js';
import { elapse } from '../e2e/scheduler/cluster.js';
import { startFleet, summary, type Fleet, type FleetExecutor } from './support/fleet.js';
import { FaultExecutorsDocument, type FaultRun } from './support/operations.js';
import { startPrivatePostgres, type PrivatePostgres } from './support/private-postgres.js';

/**
 * Scenario 3: PostgreSQL goes away for 10 s under load and comes back on the same port and data
 * folder. The server and the executors must recover by themselves (no restart), no run may stay
 * RUNNING, and every run created before, during or after is accounted for: it ends exactly once.
 */

const outageMs = 10_000;
/** The server's default window: the outage is shorter, so no executor may be declared lost. */
const heartbeatTimeoutSeconds = 20;
const inFlight = ['SCHEDULED', 'DISPATCHED', 'RUNNING'];

describe('a PostgreSQL restart (10 s down) under load', () => {
  let postgres: PrivatePostgres;
  let fleet: Fleet;

  beforeAll(async () => {
    postgres = await startPrivatePostgres();
    const databaseUrl = await postgres.createDatabase('graphcron_faults');
    // The server migrates the empty database on its first start.
    fleet = await startFleet({
      databaseUrl,
      env: { GRAPHCRON_EXECUTOR_HEARTBEAT_TIMEOUT_SECONDS: String(heartbeatTimeoutSeconds) },
      onStop: () => postgres.destroy(),
    });
  });
  afterAll(async () => {
    await fleet?.stop();
    await postgres?.destroy();
  });

  it('server and executors reconnect by themselves; every run ends exactly once; none stays RUNNING', async () => {
    const server = fleet.servers[0]!;
    const executors = [
      await fleet.addExecutor({ capacity: 8 }),
      await fleet.addExecutor({ capacity: 8 }),
    ];
    await fleet.waitOnline(executors);

    const cronTaskId = await fleet.createTask({
      command: 'sleep 0.3; echo cron',
      cronExpression: '* * * * * *',
      misfirePolicy: 'SKIP',
      overlapPolicy: 'WAIT',
      maxParallelRuns: 30,
      routingStrategy: 'ROUND_ROBIN',
    });
    const manualTaskId = await fleet.createTask({
      command: 'sleep 1; echo manual',
      maxParallelRuns: 100,
      routingStrategy: 'ROUND_ROBIN',
    });

    // A stream of manual runs, one every 250 ms, whatever the database is doing.
    const created: { id: string; at: number }[] = [];
    const failedCalls: { at: number; error: string }[] = [];
    let streaming = true;
    const stream = (async () => {
      while (streaming) {
        const at = Date.now();
        try {
          created.push({ id: await fleet.runTask(manualTaskId), at });
        } catch (error) {
          failedCalls.push({ at, error: error instanceof Error ? error.message : String(error) });
        }
        await elapse(250);
      }
    })();

    await elapse(6_000); // load before the outage
    const stoppedAt = Date.now();
    await postgres.stop();
    const downAt = Date.now();
    await elapse(outageMs); // the outage is the behaviour under test
    const restartAt = Date.now();
    await postgres.start();
    const backAt = Date.now();

    // The server: its API answers again (a run is created) without a restart.
    const firstRunAfter = await fleet.until(
      'the server to create runs again',
      async () => created.find((c) => c.at >= backAt),
      30_000,
      100,
    );
    const serverRecoveredMs = Date.now() - backAt;
    // The executors: each heartbeats again (the server's view).
    const executorRecoveredMs = new Map<string, number>();
    await fleet.until(
      'both executors to heartbeat again',
      async () => {
        const { executors: page } = await fleet.admin.data(FaultExecutorsDocument, {});
        for (const state of page.nodes) {
          if (
            !executorRecoveredMs.has(state.id) &&
            state.isOnline &&
            state.lastHeartbeatAt &&
            Date.parse(state.lastHeartbeatAt) > backAt
          ) {
            executorRecoveredMs.set(state.id, Date.now() - backAt);
          }
        }
        return executors.every((e) => executorRecoveredMs.has(e.id));
      },
      30_000,
      100,
    );

    // The server's view of the executors after the outage, until the load ends: an outage
    // shorter than the heartbeat window must not get them declared lost.
    const seenOffline = new Map<string, number>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const page = await fleet.admin.data(FaultExecutorsDocument, {}).catch(() => undefined);
        for (const state of page?.executors.nodes ?? []) {
          if (!state.isOnline) seenOffline.set(state.name, (seenOffline.get(state.name) ?? 0) + 1);
        }
        await elapse(200);
      }
    })();

    await elapse(6_000); // load after the outage
    watching = false;
    await watcher;
    streaming = false;
    await stream;
    const loadEndedAt = Date.now();
    await fleet.admin.data(SchedulerSetTaskEnabledDocument, { id: cronTaskId, isEnabled: false });

    // Nothing stays in flight: bounded by twice the heartbeat window after PostgreSQL is back.
    const settleDeadline = backAt + 2 * heartbeatTimeoutSeconds * 1000;
    const [cronRuns, manualRuns] = await fleet.until(
      'every run to end',
      async () => {
        const all = [await fleet.runsOf(cronTaskId), await fleet.runsOf(manualTaskId)] as const;
        return all.every((runs) => runs.every((r) => !inFlight.includes(r.status))) && all;
      },
      Math.max(1_000, settleDeadline - Date.now()),
      250,
    );
    const settledMs = Date.now() - loadEndedAt;

    // Processes: none exited, none was restarted.
    expect(server.child.exitCode, server.output().slice(-4000)).toBeNull();
    for (const executor of executors) {
      expect(executor.process.child.exitCode, executor.process.output().slice(-4000)).toBeNull();
    }

    expect(Object.fromEntries(seenOffline), 'executors seen offline after the outage').toEqual({});

    // Manual runs: every one the API created is there, and ended FINISHED on its first attempt;
    // a call that failed may still have created a run (its answer lost), which must end too.
    const manualIds = new Set(manualRuns.map((r) => r.id));
    const missing = created.filter((c) => !manualIds.has(c.id));
    expect(missing, 'runs the API created but cannot list').toEqual([]);
    const unacknowledgedCreations = manualRuns.length - created.length;
    expect(unacknowledgedCreations).toBeGreaterThanOrEqual(0);
    expect(unacknowledgedCreations).toBeLessThanOrEqual(failedCalls.length);
    const badManual = manualRuns.filter((r) => !endedOnceFinished(r));
    expect(badManual.map(describeRun), 'manual runs not FINISHED exactly once').toEqual([]);

    // Cron fires: one per second from the first to the last, none doubled; each a run that
    // FINISHED on its first attempt, or (seconds that fell due while PostgreSQL was down and
    // came too late) recorded SKIPPED as a misfire.
    const cron = [...cronRuns].sort(
      (a, b) => Date.parse(a.scheduledAt!) - Date.parse(b.scheduledAt!),
    );
    const seconds = cron.map((r) => Date.parse(r.scheduledAt!));
    expect(new Set(seconds).size, 'doubled fires').toBe(seconds.length);
    const missedSeconds: string[] = [];
    for (let s = seconds[0]!; s <= seconds.at(-1)!; s += 1000) {
      if (!seconds.includes(s)) missedSeconds.push(new Date(s).toISOString());
    }
    expect(missedSeconds, 'seconds without a fire record').toEqual([]);
    const skipped = cron.filter((r) => r.status === 'SKIPPED');
    for (const run of skipped) {
      expect(run.statusReason, describeRun(run)).toMatch(/misfire/);
      const at = Date.parse(run.scheduledAt!);
      expect(at, describeRun(run)).toBeGreaterThanOrEqual(stoppedAt - 1_000);
      expect(at, describeRun(run)).toBeLessThanOrEqual(backAt + serverRecoveredMs);
    }
    const badCron = cron.filter((r) => r.status !== 'SKIPPED' && !endedOnceFinished(r));
    expect(badCron.map(describeRun), 'cron runs not FINISHED exactly once').toEqual([]);

    // Both executors took work again after the outage.
    const after = [...manualRuns, ...cron].filter((r) => Date.parse(r.createdAt) > backAt);
    const takers = (executor: FleetExecutor): number =>
      after.filter((r) => r.executorId === executor.id).length;
    for (const executor of executors) expect(takers(executor)).toBeGreaterThan(0);

    const inFlightAtStop = [...manualRuns, ...cron].filter(
      (r) =>
        r.startedAt &&
        Date.parse(r.startedAt) < stoppedAt &&
        Date.parse(r.finishedAt ?? '') > stoppedAt,
    );
    const endedDuringOutage = [...manualRuns, ...cron].filter((r) => {
      const finished = Date.parse(r.finishedAt ?? '');
      return finished > downAt && finished < backAt;
    });
    const failureKinds = [...new Set(failedCalls.map((f) => f.error.slice(0, 120)))];
    console.log(
      [
        `PostgreSQL restart under load (down ${restartAt - downAt} ms + start ${backAt - restartAt} ms; ` +
          `heartbeat window ${heartbeatTimeoutSeconds} s):`,
        `  server API creating runs again ${serverRecoveredMs} ms after PostgreSQL was back ` +
          `(first run ${firstRunAfter.id})`,
        `  executors heartbeating again after: ${executors.map((e) => `${e.name} ${executorRecoveredMs.get(e.id)} ms`).join(', ')}`,
        `  every run ended ${settledMs} ms after the load stopped, ${Date.now() - backAt} ms after ` +
          `PostgreSQL was back (bound ${2 * heartbeatTimeoutSeconds} s)`,
        `  server log during the test: ${JSON.stringify(logMessages(server.output()))}`,
        `  manual runs: ${created.length} created, ${failedCalls.length} calls failed, ` +
          `${unacknowledgedCreations} created without an answer; all ${manualRuns.length} FINISHED once`,
        `  cron fires: ${cron.length} seconds, ${skipped.length} SKIPPED as misfires, ${cron.length - skipped.length} FINISHED once`,
        `  runs running when PostgreSQL stopped: ${inFlightAtStop.length}; finished (by the executor) while it was down: ${endedDuringOutage.length}`,
        `  executors seen offline after the outage (looks every 200 ms): ${JSON.stringify(Object.fromEntries(seenOffline))}`,
        `  after the outage: ${executors.map((e) => `${e.name} took ${takers(e)}`).join(', ')} runs`,
        `  failed API calls during the outage: ${summary(failedCalls.map((f) => f.at - stoppedAt))} after the stop; ` +
          `errors: ${JSON.stringify(failureKinds)}`,
      ].join('\n'),
    );
  });
});

function endedOnceFinished(run: FaultRun): boolean {
  return run.status === 'FINISHED' && run.attempt === 1 && run.attempts.length === 0;
}

function describeRun(run: FaultRun): string {
  return `${run.id} scheduled ${run.scheduledAt} created ${run.createdAt} ${run.status} attempt ${run.attempt} ${run.statusReason ?? ''}`;
}

/** Distinct messages of the JSON log lines in a process's output, with their counts. */
function logMessages(output: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const { level, message } = JSON.parse(line) as { level?: string; message?: string };
      const key = `${level}: ${message}`;
      counts[key] = (counts[key] ?? 0) + 1;
    } catch {
      // not a log line
    }
  }
  return counts;
}
