import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { elapse } from '../e2e/scheduler/cluster.js';
import { startPartitionSetup, type PartitionSetup } from './support/partition.js';

/**
 * Scenario 4a: an executor's connection to the server is cut (all sockets reset, reconnects
 * refused) for 5 s, well within the heartbeat window, while it runs a command that keeps
 * printing. The run must not be reassigned: it completes on the same attempt, and what it
 * printed during the cut arrives from the executor's outbox, each line once.
 */

const heartbeatTimeoutSeconds = 12;
const cutMs = 5_000;
const lineCount = 24;

describe('an executor cut off for 5 s (heartbeat window 12 s)', () => {
  let setup: PartitionSetup;

  beforeAll(async () => {
    setup = await startPartitionSetup(heartbeatTimeoutSeconds);
  });
  afterAll(async () => {
    await setup?.stop();
  });

  it('the running run is not reassigned: it completes on the same attempt with its whole log', async () => {
    const { fleet, proxy, cut } = setup;
    const taskId = await fleet.createTask({
      command: `i=1; while [ $i -le ${lineCount} ]; do echo "line $i"; i=$((i+1)); sleep 0.5; done`,
      routingStrategy: 'FAILOVER',
      // A run wrongly declared lost would be retried, and show as attempt 2.
      retryTimes: 1,
      retryIntervalSeconds: 0,
    });
    const id = await fleet.runTask(taskId);
    await fleet.until(
      'the run to print on the proxied executor',
      async () => {
        const run = await fleet.run(id);
        return (
          run.status === 'RUNNING' &&
          run.executorId === cut.id &&
          (await fleet.logsOf(id)).length >= 2
        );
      },
      20_000,
    );

    // Watch the server's view through the cut: the run and the executor's online state.
    const seen = { statuses: new Set<string>(), attempts: new Set<number>(), offline: 0 };
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const [run, online] = await Promise.all([fleet.run(id), setup.isOnline(cut)]);
        seen.statuses.add(run.status);
        seen.attempts.add(run.attempt);
        if (!online.isOnline) seen.offline++;
        await elapse(250);
      }
    })();

    proxy.cut();
    const cutAt = Date.now();
    await elapse(cutMs); // the cut is the behaviour under test
    proxy.restore();
    const restoredAt = Date.now();
    const reconnect = cut.process.waitFor(/connected to/, 60_000).then(() => Date.now());

    const run = await fleet.until(
      'the run to finish',
      async () => {
        const current = await fleet.run(id);
        return !['SCHEDULED', 'DISPATCHED', 'RUNNING'].includes(current.status) && current;
      },
      60_000,
      250,
    );
    const reconnectedAt = await reconnect;
    watching = false;
    await watcher;

    const logs = await fleet.logsOf(id);
    console.log(
      [
        `executor connection cut for ${restoredAt - cutAt} ms (heartbeat window ${heartbeatTimeoutSeconds} s):`,
        `  proxy: ${proxy.refused} connections refused during the cut`,
        `  subscription reconnected ${reconnectedAt - restoredAt} ms after the restore`,
        `  run ${run.status} on attempt ${run.attempt} by ${run.executorId === cut.id ? 'the cut executor' : run.executorId}, ` +
          `${logs.length} log chunks; server saw statuses ${[...seen.statuses].join('/')}, ` +
          `attempts ${[...seen.attempts].join('/')}, executor offline in ${seen.offline} looks`,
      ].join('\n'),
    );
    expect(run).toMatchObject({
      status: 'FINISHED',
      attempt: 1,
      exitCode: 0,
      executorId: cut.id,
      attempts: [],
    });
    expect([...seen.attempts]).toEqual([1]);
    expect(seen.offline).toBe(0);
    // The whole output, once each, in order: lines printed during the cut came from the outbox.
    expect(new Set(logs.map((l) => l.attempt))).toEqual(new Set([1]));
    expect(logs.map((l) => l.content).join('')).toBe(
      Array.from({ length: lineCount }, (_, i) => `line ${i + 1}\n`).join(''),
    );
    expect(new Set(logs.map((l) => l.seq)).size).toBe(logs.length);
  });
});
