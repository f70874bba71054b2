import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { elapse, isAlive } from '../e2e/scheduler/cluster.js';
import { withOutput } from './support/fleet.js';
import {
  conflictLines,
  describeRefusals,
  startPartitionSetup,
  type PartitionSetup,
} from './support/partition.js';

/**
 * Scenario 4b: an executor's connection is cut for 60 s, six times the server's heartbeat
 * window (10 s), while it runs a command that keeps printing. The server declares the attempt
 * lost and retries it on the other executor, exactly once. When the connection comes back, the
 * cut executor learns the run is no longer its own (it stops the command) and replays its outbox:
 * the server refuses attempt 1's end (CONFLICT) and the run's outcome does not change, while
 * everything attempt 1 printed, before and during the cut, stays readable under attempt 1.
 */

const heartbeatTimeoutSeconds = 10;
const cutMs = 60_000;

describe('an executor cut off for 60 s (heartbeat window 10 s)', () => {
  let setup: PartitionSetup;

  beforeAll(async () => {
    setup = await startPartitionSetup(heartbeatTimeoutSeconds);
  });
  afterAll(async () => {
    await setup?.stop();
  });

  it('the run is reassigned exactly once; the old attempt’s replay is refused; its whole log stays readable', async () => {
    const { fleet, proxy, cut, direct } = setup;
    // On the cut executor the command prints a numbered line every 250 ms (for 100 s unless
    // stopped), and counts what it printed in a file; on the other it prints one line and ends.
    const printed = path.join(fleet.scratch, 'attempt-1-printed');
    const taskId = await fleet.createTask({
      command:
        `if [ "$GRAPHCRON_FAULT_ROLE" = cut ]; then ${fleet.recordPid}; ` +
        'i=1; while [ $i -le 400 ]; do echo "attempt 1 line $i"; ' +
        `echo $i >> ${printed}; i=$((i+1)); sleep 0.25; done; fi; ` +
        'echo "attempt on $GRAPHCRON_FAULT_ROLE"',
      routingStrategy: 'FAILOVER',
      retryTimes: 1,
      retryIntervalSeconds: 0,
      timeoutSeconds: 600,
    });
    const id = await fleet.runTask(taskId);
    const storedBeforeCut = await fleet.until(
      'the run to print on the cut executor',
      async () => {
        const run = await fleet.run(id);
        const lines = (await fleet.logsOf(id)).map((l) => l.content).join('');
        return (
          run.status === 'RUNNING' &&
          run.executorId === cut.id &&
          lines.split('\n').length > 4 &&
          lines
        );
      },
      20_000,
    );

    proxy.cut();
    const cutAt = Date.now();

    // The server declares attempt 1 lost and runs attempt 2 on the other executor.
    const retried = await fleet.until(
      'the run to finish on the other executor',
      async () => {
        const run = await fleet.run(id);
        return (
          run.attempt > 1 && !['SCHEDULED', 'DISPATCHED', 'RUNNING'].includes(run.status) && run
        );
      },
      40_000,
      250,
    );
    const lostAfterMs = Date.parse(retried.attempts[0]?.finishedAt ?? '') - cutAt;
    const redispatchedAfterMs = Date.parse(retried.dispatchedAt ?? '') - cutAt;
    const expectFinal = (run: typeof retried): void => {
      expect(run).toMatchObject({
        status: 'FINISHED',
        attempt: 2,
        retryCount: 1,
        exitCode: 0,
        executorId: direct.id,
      });
      expect(run.attempts.map((a) => [a.attempt, a.status, a.executorId])).toEqual([
        [1, 'UNKNOWN', cut.id],
      ]);
    };
    expectFinal(retried);

    // The rest of the 60 s: nothing else happens to the run.
    await elapse(Math.max(0, cutAt + cutMs - Date.now())); // the cut is the behaviour under test
    expectFinal(await fleet.run(id));
    expect(cut.process.child.exitCode).toBeNull();
    proxy.restore();
    const restoredAt = Date.now();

    // The cut executor comes back: its heartbeat is accepted, it reconnects its subscription,
    // learns that the run is no longer its own (it stops the command), and its outbox replay of
    // attempt 1 (the output printed during the cut, then the end) is refused.
    const reconnected = cut.process.waitFor(/connected to/, 60_000).then(() => Date.now());
    const heartbeatAt = await fleet.until(
      'the cut executor to heartbeat again',
      async () => {
        const state = await setup.isOnline(cut);
        return state.isOnline && state.lastHeartbeatAt > restoredAt && Date.now();
      },
      60_000,
      250,
    );
    // A run created now goes to the cut executor again (FAILOVER, and it is online): how long
    // until it starts shows when the executor takes work again.
    const probeTaskId = await fleet.createTask({
      command: 'echo probe',
      routingStrategy: 'FAILOVER',
    });
    const probeId = await fleet.runTask(probeTaskId);
    const [commandPid] = fleet.recordedPids();
    const commandStoppedAt = await fleet.until(
      'the cut executor to stop the abandoned command',
      async () => commandPid !== undefined && !isAlive(commandPid) && Date.now(),
      60_000,
      250,
    );
    const refusedAt = await withOutput(
      fleet.until(
        'the replay of attempt 1 to be refused, up to its end report',
        async () => {
          const lines = conflictLines(cut.process.output(), id);
          return lines.some((line) => /finish/i.test(line)) && Date.now();
        },
        60_000,
        250,
      ),
      cut.process,
    );
    const reconnectedAt = await reconnected;
    // The first heartbeat through (every second here) cuts the subscription's backoff short,
    // and that backoff is capped at 5 s anyway; it used to grow to 30 s during such a cut.
    expect(reconnectedAt - restoredAt).toBeLessThanOrEqual(8_000);

    // The outcome is unchanged, and exactly one retry happened.
    const final = await fleet.run(id);
    expectFinal(final);
    const runs = await fleet.runsOf(taskId);
    expect(runs.map((r) => r.id)).toEqual([id]);

    // Attempt 1's output stays readable for inspection: every line it printed, before and
    // during the cut (replayed from the outbox), in order, each once. (The command notes a line
    // in its file after printing it: the log may hold one line more than the file.)
    const printedCount = readFileSync(printed, 'utf8').split('\n').filter(Boolean).length;
    const attempt1 = (await fleet.logsOf(id, 1)).map((l) => l.content).join('');
    expect(attempt1.startsWith(storedBeforeCut)).toBe(true);
    const attempt1Lines = attempt1.split('\n').filter(Boolean);
    expect(attempt1Lines).toEqual(attempt1Lines.map((_, i) => `attempt 1 line ${i + 1}`));
    expect(attempt1Lines.length).toBeGreaterThanOrEqual(printedCount);
    expect(attempt1Lines.length).toBeLessThanOrEqual(printedCount + 1);
    const attempt2 = (await fleet.logsOf(id, 2)).map((l) => l.content).join('');
    expect(attempt2).toBe('attempt on direct\n');

    // The probe: FINISHED once, wherever it ran.
    const probe = await fleet.until(
      'the probe run to end',
      async () => {
        const run = await fleet.run(probeId);
        return !['SCHEDULED', 'DISPATCHED', 'RUNNING'].includes(run.status) && run;
      },
      60_000,
      250,
    );
    expect(probe).toMatchObject({ status: 'FINISHED', exitCode: 0 });
    const probeWhere = probe.executorId === cut.id ? 'the cut executor' : 'the other executor';

    const refusals = conflictLines(cut.process.output(), id);
    console.log(
      [
        `executor connection cut for ${restoredAt - cutAt} ms (heartbeat window ${heartbeatTimeoutSeconds} s):`,
        `  cut → attempt 1 declared UNKNOWN: ${lostAfterMs} ms; → attempt 2 dispatched to the other executor: ${redispatchedAfterMs} ms`,
        `  after the restore: heartbeat accepted ${heartbeatAt - restoredAt} ms, subscription reconnected ` +
          `${reconnectedAt - restoredAt} ms, abandoned command stopped ${commandStoppedAt - restoredAt} ms, ` +
          `replay refused up to its end ${refusedAt - restoredAt} ms`,
        `  proxy: ${proxy.refused} connections refused during the cut`,
        `  refusals (CONFLICT) of attempt 1 in the cut executor's log: ${describeRefusals(refusals)}`,
        `  e.g. ${refusals.at(-1)}`,
        `  attempt 1 log lines readable: ${attempt1Lines.length} of ${printedCount} printed ` +
          `(${storedBeforeCut.split('\n').length - 1} stored before the cut)`,
        `  a run created once the heartbeat was accepted started ` +
          `${Date.parse(probe.startedAt ?? '') - Date.parse(probe.createdAt)} ms after its creation, ` +
          `on ${probeWhere}, attempt ${probe.attempt}`,
      ].join('\n'),
    );
  });
});
