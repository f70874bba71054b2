import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { shellAssignment } from '../helpers/assignments.js';
import { startCuttableProxy, type CuttableProxy } from '../helpers/cuttable-proxy.js';
import {
  FakeProtocolServer,
  protocolError,
  type ProtocolCall,
} from '../helpers/fake-protocol-server.js';
import {
  runExecutorCommand,
  startExecutorProcess,
  type ExecutorProcess,
} from '../helpers/executor-process.js';
import { waitForJournaledProcessGroup } from '../../../helpers/executor-journal.js';
import { isProcessAlive } from '../helpers/processes.js';

const inputOf = (call: ProtocolCall) => call.args.input as Record<string, unknown>;
const isAbout = (instanceId: string) => (call: ProtocolCall) =>
  call.args.instanceId === instanceId || inputOf(call)?.instanceId === instanceId;

describe('graphcron-executor run', () => {
  let server: FakeProtocolServer;
  let stateDir: string;
  const processes: ExecutorProcess[] = [];
  const proxies: CuttableProxy[] = [];
  /** Process groups a test started through an executor that it then killed. */
  const orphanGroups: number[] = [];

  beforeEach(async () => {
    server = await FakeProtocolServer.start();
    stateDir = mkdtempSync(path.join(tmpdir(), 'executor-run-'));
    const registered = await runExecutorCommand([
      'register',
      ...['--server', server.url, '--token', 't', '--name', 'runner-1', '--state-dir', stateDir],
    ]);
    expect(registered.code).toBe(0);
  });
  afterEach(async () => {
    for (const executor of processes.splice(0)) {
      if (executor.child.exitCode === null) executor.child.kill('SIGKILL');
      await executor.exited;
    }
    for (const groupId of orphanGroups.splice(0)) {
      try {
        process.kill(-groupId, 'SIGKILL');
      } catch {
        // Already gone, as it should be.
      }
    }
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
    await server.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  function startRun(extraArgs: string[] = []): ExecutorProcess {
    const executor = startExecutorProcess([
      'run',
      ...['--state-dir', stateDir, '--heartbeat-seconds', '0.2', '--kill-grace-seconds', '0.5'],
      ...extraArgs,
    ]);
    processes.push(executor);
    return executor;
  }

  async function connected(executor: ExecutorProcess): Promise<void> {
    await executor.waitForOutput(
      /^executor runner-1 \(id 1\) connected to http:\/\/127\.0\.0\.1:\d+\/graphql$/m,
    );
    await server.waitForSubscriber();
  }

  it('runs pushed assignments, reports them in order over its socket, and heartbeats with fresh tokens', async () => {
    const executor = startRun();
    await connected(executor);
    const assignment = shellAssignment({ command: 'echo hello; echo oops >&2' });
    server.push(assignment);

    const finished = await server.waitForCall(
      (call) => call.field === 'reportTaskFinished' && isAbout(assignment.instanceId)(call),
    );
    expect(inputOf(finished)).toMatchObject({ status: 'FINISHED', exitCode: 0, attempt: 1 });
    const calls = server.calls.filter(isAbout(assignment.instanceId));
    // The two chunks travel in one call or two, as the outbox happened to batch them (on a busy
    // machine the first may leave before the second is written).
    const fields = calls.map((call) => call.field);
    // It had room: started at once, and that report is its acknowledgement.
    expect(fields.filter((field, index) => field !== fields[index - 1])).toEqual([
      'reportTaskStarted',
      'appendTaskLogs',
      'reportTaskFinished',
    ]);
    const logCalls = calls.filter((call) => call.field === 'appendTaskLogs');
    expect(logCalls.flatMap((call) => inputOf(call).chunks as unknown[])).toMatchObject([
      { seq: 0, stream: 'STDOUT', content: 'hello\n' },
      { seq: 1, stream: 'STDERR', content: 'oops\n' },
    ]);

    // A duplicate delivery is acknowledged again, not run again.
    server.push({ ...assignment });
    await server.waitForCall(
      (call) =>
        call.field === 'acknowledgeAssignment' &&
        server.callsTo('acknowledgeAssignment').filter(isAbout(assignment.instanceId)).length === 1,
    );
    expect(server.callsTo('reportTaskStarted').filter(isAbout(assignment.instanceId))).toHaveLength(
      1,
    );

    await server.waitForCall((call) => call.field === 'executorHeartbeat');
    const everyRequest = server.requests.filter((call) => call.field !== 'registerExecutor');
    expect(everyRequest.every((call) => call.executorId === '1')).toBe(true);
    // Reports travel over the subscription's socket (authenticated when it connected); every
    // HTTP request (the heartbeat) carries a token of its own.
    const reportCalls = everyRequest.filter((call) => call.field === 'submitExecutorReports');
    expect(reportCalls.length).toBeGreaterThan(0);
    expect(reportCalls.every((call) => call.transport === 'ws')).toBe(true);
    const overHttp = everyRequest.filter((call) => call.transport === 'http');
    expect(overHttp.length).toBeGreaterThan(0);
    expect(new Set(overHttp.map((call) => call.jti)).size).toBe(overHttp.length);

    executor.child.kill('SIGTERM');
    expect(await executor.exited).toBe(0);
  });

  it('cancels a running assignment when told to, and kills what the heartbeat says is abandoned', async () => {
    const executor = startRun();
    await connected(executor);
    const cancelled = shellAssignment({ command: 'sleep 30' });
    const abandoned = shellAssignment({ command: 'sleep 30' });
    server.handlers.executorHeartbeat = (call) => {
      const running = inputOf(call).runningInstanceIds as string[];
      return {
        abandonedInstanceIds: running.filter((id) => id === abandoned.instanceId),
        serverTime: new Date().toISOString(),
      };
    };
    server.push(cancelled);
    await server.waitForCall(
      (call) => call.field === 'reportTaskStarted' && isAbout(cancelled.instanceId)(call),
    );
    server.push({
      __typename: 'ExecutorCancellation',
      instanceId: cancelled.instanceId,
      attempt: 1,
      reason: 'cancelled by alice',
    });
    const finished = await server.waitForCall(
      (call) => call.field === 'reportTaskFinished' && isAbout(cancelled.instanceId)(call),
    );
    expect(inputOf(finished)).toMatchObject({
      status: 'MANUAL_CANCELLATION',
      statusReason: expect.stringContaining('cancelled by alice'),
    });

    server.push(abandoned);
    const killed = await server.waitForCall(
      (call) => call.field === 'reportTaskFinished' && isAbout(abandoned.instanceId)(call),
    );
    expect(inputOf(killed).status).toBe('MANUAL_CANCELLATION');
    executor.child.kill('SIGTERM');
    expect(await executor.exited).toBe(0);
  });

  it('exits 78 when the server keeps refusing its key', async () => {
    server.isAcceptingConnections = false;
    const executor = startRun();
    expect(await executor.exited).toBe(78);
    expect(server.refusedConnectionCount).toBe(3);
    expect(executor.stderr()).toContain("the server refused this executor's key");
  });

  it('on SIGTERM, lets running work finish and delivers its reports before exiting 0', async () => {
    const executor = startRun();
    await connected(executor);
    const assignment = shellAssignment({ command: 'sleep 1; echo done' });
    server.push(assignment);
    await server.waitForCall(
      (call) => call.field === 'reportTaskStarted' && isAbout(assignment.instanceId)(call),
    );
    executor.child.kill('SIGTERM');
    expect(await executor.exited).toBe(0);
    const [finished] = server.callsTo('reportTaskFinished').filter(isAbout(assignment.instanceId));
    expect(inputOf(finished!)).toMatchObject({ status: 'FINISHED', result: 'done\n' });
  });

  it('keeps undelivered reports across a restart and replays them in order', async () => {
    let isFinishRefused = true;
    server.handlers.reportTaskFinished = (call) => {
      if (isFinishRefused) throw protocolError('INTERNAL_SERVER_ERROR');
      return { id: inputOf(call).instanceId };
    };
    const first = startRun();
    await connected(first);
    const assignment = shellAssignment({ command: 'echo once' });
    server.push(assignment);
    await server.waitForCall(
      (call) => call.field === 'reportTaskFinished' && isAbout(assignment.instanceId)(call),
    );
    // Two signals: stop now instead of waiting for the server to take the report.
    first.child.kill('SIGTERM');
    // Signals of one kind do not queue: send the second once the first was handled.
    await first.waitForOutput(/draining/, 'stderr');
    first.child.kill('SIGTERM');
    expect(await first.exited).not.toBe(0);

    isFinishRefused = false;
    const refusedSoFar = server.callsTo('reportTaskFinished').length;
    const second = startRun();
    await connected(second);
    await server.waitForCall(
      (call) =>
        call.field === 'reportTaskFinished' &&
        server.callsTo('reportTaskFinished').indexOf(call) >= refusedSoFar,
    );
    const finishedCalls = server
      .callsTo('reportTaskFinished')
      .filter(isAbout(assignment.instanceId));
    expect(inputOf(finishedCalls.at(-1)!)).toMatchObject({ status: 'FINISHED', result: 'once\n' });
    // Replayed (the same report each time), not run again.
    const startedCalls = server.callsTo('reportTaskStarted').filter(isAbout(assignment.instanceId));
    expect(new Set(startedCalls.map((call) => inputOf(call).startedAt)).size).toBe(1);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('lists the runs it knows to the server before it subscribes, retrying until it is answered', async () => {
    server.handlers.reportTaskFinished = () => {
      throw protocolError('INTERNAL_SERVER_ERROR');
    };
    const first = startRun();
    await connected(first);
    const [firstReconcile] = server.callsTo('reconcileExecutorRuns');
    expect(firstReconcile!.args.input).toEqual({ knownRuns: [] });
    const pidFile = path.join(stateDir, 'command-pid');
    const ended = shellAssignment({ command: 'echo done' });
    const running = shellAssignment({ command: `echo $$ > ${pidFile}; exec sleep 60` });
    server.push(ended);
    server.push(running);
    await server.waitForCall(
      (call) => call.field === 'reportTaskFinished' && isAbout(ended.instanceId)(call),
    );
    await server.waitForCall(
      (call) => call.field === 'reportTaskStarted' && isAbout(running.instanceId)(call),
    );
    while (!existsSync(pidFile) || !readFileSync(pidFile, 'utf8').trim()) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    orphanGroups.push(Number(readFileSync(pidFile, 'utf8')));
    first.child.kill('SIGKILL');
    await first.exited;

    // The restarted process knows both: one from its journal (reported ABNORMAL_ENDING by its
    // recovery), one by its final report, still undelivered. Not a subscription before the
    // server has answered, which it does at the third try.
    const subscriptionsBefore = server.subscriptionCount;
    const subscriptionsSeen: number[] = [];
    server.handlers.reconcileExecutorRuns = () => {
      subscriptionsSeen.push(server.subscriptionCount);
      if (subscriptionsSeen.length < 3) throw protocolError('INTERNAL_SERVER_ERROR');
      return { endedInstanceIds: [] };
    };
    const second = startRun();
    await connected(second);
    expect(subscriptionsSeen).toEqual([
      subscriptionsBefore,
      subscriptionsBefore,
      subscriptionsBefore,
    ]);
    const known = server.callsTo('reconcileExecutorRuns').at(-1)!.args.input as {
      knownRuns: { instanceId: string; attempt: number }[];
    };
    expect(known.knownRuns).toEqual(
      expect.arrayContaining([
        { instanceId: ended.instanceId, attempt: ended.attempt },
        { instanceId: running.instanceId, attempt: running.attempt },
      ]),
    );
    second.child.kill('SIGKILL');
    await second.exited;
  });

  it('after a SIGKILL, its restart stops the command the killed process left running, then reports it', async () => {
    const first = startRun();
    await connected(first);
    const pidFile = path.join(stateDir, 'command-pid');
    const assignment = shellAssignment({ command: `echo $$ > ${pidFile}; exec sleep 60` });
    server.push(assignment);
    const pidOf = (): number => (existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0);
    // The run journal names the command's process group as soon as it is spawned.
    const groupId = await waitForJournaledProcessGroup(stateDir);
    while (!pidOf()) await new Promise((resolve) => setTimeout(resolve, 20));
    const pid = pidOf();
    orphanGroups.push(pid);
    expect(groupId).toBe(pid);

    first.child.kill('SIGKILL');
    await first.exited;
    expect(isProcessAlive(pid)).toBe(true); // Detached: the crash leaves it running.

    const second = startRun();
    await connected(second);
    const finished = await server.waitForCall(
      (call) => call.field === 'reportTaskFinished' && isAbout(assignment.instanceId)(call),
    );
    // Stopped before it was reported, not later.
    expect(isProcessAlive(pid)).toBe(false);
    expect(inputOf(finished)).toMatchObject({
      status: 'ABNORMAL_ENDING',
      statusReason: expect.stringContaining(
        `its leftover process group ${pid} was still running and was stopped (SIGTERM)`,
      ),
    });
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('after a network cut, takes work again as soon as a heartbeat gets through', async () => {
    const proxy = await startCuttableProxy(Number(new URL(server.url).port));
    proxies.push(proxy);
    const executor = startRun(['--server', proxy.urlFor(server.url), '--log-level', 'debug']);
    await connected(executor);
    const assignment = shellAssignment({ command: 'sleep 1; echo done' });
    server.push(assignment);
    await server.waitForCall(
      (call) => call.field === 'reportTaskStarted' && isAbout(assignment.instanceId)(call),
    );

    proxy.cut('refuse');
    // Wait until the subscription has backed off to a wait of 3 s or more (the run ends
    // meanwhile, its report waits in the outbox): before this fix such waits grew to 30 s.
    await executor.waitForOutput(
      /"message":"waiting to reconnect","retryInMs":(?:[3-9]\d{3}|[1-9]\d{4,})\}/,
      'stderr',
    );
    proxy.restore();
    const restoredAt = Date.now();
    await executor.waitForOutput(/(?:connected to [^\n]*\n[\s\S]*){2}/);
    const reconnectMs = Date.now() - restoredAt;
    await server.waitForCall(
      (call) => call.field === 'reportTaskFinished' && isAbout(assignment.instanceId)(call),
    );
    const deliveredMs = Date.now() - restoredAt;
    // Heartbeats every 200 ms: the first one through ends both waits.
    expect(reconnectMs).toBeLessThan(1_500);
    expect(deliveredMs).toBeLessThan(1_500);
    expect(executor.stderr()).toContain('heartbeats are accepted again');

    await server.waitForSubscriptions(2);
    const next = shellAssignment({ command: 'echo next' });
    server.push(next);
    await server.waitForCall(
      (call) => call.field === 'reportTaskFinished' && isAbout(next.instanceId)(call),
    );
    executor.child.kill('SIGTERM');
    expect(await executor.exited).toBe(0);
  });
});
