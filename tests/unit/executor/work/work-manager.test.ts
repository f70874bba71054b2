import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../executor/logger.js';
import { Outbox } from '../../../../executor/outbox/outbox.js';
import type { Report, RunKey } from '../../../../executor/outbox/report.js';
import { identifyProcessGroup, isGroupAlive } from '../../../../executor/runner/process-group.js';
import { RunJournal } from '../../../../executor/work/run-journal.js';
import { WorkManager } from '../../../../executor/work/work-manager.js';
import { shellAssignment } from '../helpers/assignments.js';

type ReportOf<T extends Report['type']> = Extract<Report, { type: T }>;

/** A compact view of a report: `type instanceId[/status]`. */
function describeReport(report: Report): string {
  switch (report.type) {
    case 'acknowledge':
      return `ack ${report.run.instanceId}`;
    case 'started':
      return `started ${report.input.instanceId}`;
    case 'logChunk':
      return `log ${report.run.instanceId}`;
    case 'finished':
      return `finished ${report.input.instanceId} ${report.input.status}`;
  }
}

describe('WorkManager', () => {
  let folder: string;
  let outbox: Outbox;
  let journal: RunJournal;

  beforeEach(async () => {
    folder = mkdtempSync(path.join(tmpdir(), 'work-'));
    outbox = await Outbox.open(path.join(folder, 'outbox'));
    journal = await RunJournal.open(path.join(folder, 'runs'));
  });
  /** Process groups a test started outside any WorkManager (a crashed executor's commands). */
  const leftovers: number[] = [];

  afterEach(async () => {
    for (const groupId of leftovers.splice(0)) {
      try {
        process.kill(-groupId, 'SIGKILL');
      } catch {
        // Already gone, as it should be.
      }
    }
    await outbox.close();
    await journal.close();
    rmSync(folder, { recursive: true, force: true });
  });

  /**
   * What a crashed executor leaves behind: a command still running in its own process group, and
   * the journal entry of its run as the executor wrote it (started, with that group). Resolves
   * once `script` has touched "$READY" (e.g. after setting a trap).
   */
  async function crashedRun(script: string) {
    const ready = path.join(folder, `ready-${leftovers.length}`);
    const child = spawn('/bin/sh', ['-c', script], {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, READY: ready },
    });
    if (child.pid === undefined) throw new Error('cannot start /bin/sh');
    const processGroup = identifyProcessGroup(child.pid);
    leftovers.push(child.pid);
    while (!existsSync(ready)) await new Promise((resolve) => setTimeout(resolve, 10));
    const assignment = shellAssignment({ command: script });
    const startedAt = new Date().toISOString();
    await journal.write({ assignment, startedAt, processGroup });
    return { assignment, processGroup, groupId: child.pid };
  }

  function manager(
    options: { capacity?: number; knownRuns?: RunKey[]; isDryRun?: boolean } = {},
  ): WorkManager {
    return new WorkManager({
      outbox,
      journal,
      capacity: options.capacity ?? 4,
      killGraceMs: 300,
      defaultWorkingDirectory: folder,
      logger: silentLogger,
      knownRuns: options.knownRuns,
      isDryRun: options.isDryRun,
    });
  }

  function reports(): Report[] {
    return outbox.peek(Number.MAX_SAFE_INTEGER).map((record) => record.report);
  }

  /** Resolves once the outbox holds a report that matches (event-driven, no polling). */
  async function reportMatching<T extends Report['type']>(
    type: T,
    predicate: (report: ReportOf<T>) => boolean = () => true,
  ): Promise<ReportOf<T>> {
    for (;;) {
      const found = reports().find(
        (report): report is ReportOf<T> => report.type === type && predicate(report as ReportOf<T>),
      );
      if (found) return found;
      await new Promise<void>((resolve) => {
        const remove = outbox.onAppended(() => {
          remove();
          resolve();
        });
      });
    }
  }

  const finishedOf = (instanceId: string) =>
    reportMatching('finished', (report) => report.input.instanceId === instanceId);

  it('starts (which acknowledges), streams and finishes a run that has room, in that order', async () => {
    const work = manager();
    const assignment = shellAssignment({ command: 'echo hi' });
    await work.accept(assignment);
    const finished = await finishedOf(assignment.instanceId);
    expect(finished.input).toMatchObject({
      attempt: 1,
      status: 'FINISHED',
      exitCode: 0,
      result: 'hi\n',
    });
    expect(finished.input.durationMs).toBeGreaterThanOrEqual(0);
    const id = assignment.instanceId;
    expect(reports().map(describeReport)).toEqual([
      `started ${id}`,
      `log ${id}`,
      `finished ${id} FINISHED`,
    ]);
    await work.whenNoneRunning();
    expect(await journal.entries()).toEqual([]);
  });

  it('in a dry run, reports the run FINISHED without executing anything', async () => {
    const work = manager({ isDryRun: true });
    const marker = path.join(folder, 'ran');
    const assignment = shellAssignment({ command: `touch ${marker}; exit 3` });
    await work.accept(assignment);
    const finished = await finishedOf(assignment.instanceId);
    expect(finished.input).toMatchObject({ status: 'FINISHED', exitCode: 0 });
    expect(finished.input.statusReason).toMatch(/dry run/);
    expect(existsSync(marker)).toBe(false);
    const id = assignment.instanceId;
    expect(reports().map(describeReport)).toEqual([`started ${id}`, `finished ${id} FINISHED`]);
  });

  it('runs a duplicate delivery once and only acknowledges it again', async () => {
    const work = manager();
    const assignment = shellAssignment({ command: 'sleep 0.2' });
    await Promise.all([work.accept(assignment), work.accept({ ...assignment })]);
    await finishedOf(assignment.instanceId);
    await work.accept({ ...assignment });
    const kinds = reports().map(describeReport);
    expect(kinds.filter((kind) => kind.startsWith('started'))).toHaveLength(1);
    // The first delivery started at once (its `started` is the acknowledgement); both repeats
    // are acknowledged.
    expect(kinds.filter((kind) => kind.startsWith('ack'))).toHaveLength(2);

    // Another attempt of the same instance is a new run.
    await work.accept({ ...assignment, attempt: 2 });
    await reportMatching('finished', (report) => report.input.attempt === 2);
  });

  it('runs at most `capacity` at once, the others in arrival order', async () => {
    const work = manager({ capacity: 1 });
    const first = shellAssignment({ command: 'sleep 0.3' });
    const second = shellAssignment({ command: 'true' });
    await work.accept(first);
    await work.accept(second);
    expect(work.activeInstanceIds().sort()).toEqual([first.instanceId, second.instanceId].sort());
    await finishedOf(second.instanceId);
    const order = reports().map(describeReport);
    // The second waits for room: acknowledged at once, started only once the first is over.
    expect(order.indexOf(`ack ${second.instanceId}`)).toBeLessThan(
      order.indexOf(`finished ${first.instanceId} FINISHED`),
    );
    expect(order.indexOf(`started ${second.instanceId}`)).toBeGreaterThan(
      order.indexOf(`finished ${first.instanceId} FINISHED`),
    );
    expect(order).not.toContain(`ack ${first.instanceId}`);
    await work.whenNoneRunning();
    expect(work.activeInstanceIds()).toEqual([]);
  });

  it('cancels a running run and a queued one (which never starts)', async () => {
    const work = manager({ capacity: 1 });
    const running = shellAssignment({ command: 'echo go; sleep 30' });
    const queued = shellAssignment({ command: 'true' });
    await work.accept(running);
    await work.accept(queued);
    await reportMatching('logChunk', (report) => report.run.instanceId === running.instanceId);

    const cancellation = {
      __typename: 'ExecutorCancellation' as const,
      instanceId: queued.instanceId,
      attempt: queued.attempt,
      reason: 'not needed',
    };
    await work.cancel(cancellation, cancellation.reason);
    expect((await finishedOf(queued.instanceId)).input).toEqual({
      instanceId: queued.instanceId,
      attempt: 1,
      status: 'MANUAL_CANCELLATION',
      finishedAt: expect.any(String),
      statusReason: 'not needed (before it started)',
    });
    await work.cancel(running, 'stop it');
    expect((await finishedOf(running.instanceId)).input.status).toBe('MANUAL_CANCELLATION');
    expect(reports().map(describeReport)).not.toContain(`started ${queued.instanceId}`);
  });

  it('starts a run sent well ahead of its time (startAt) on that time, not before, acknowledged meanwhile', async () => {
    const work = manager({ isDryRun: true });
    // More than a second ahead: a run due sooner is acknowledged by its start (next test).
    const startAt = new Date(Date.now() + 1_300);
    const early = shellAssignment({ startAt: startAt.toISOString() });
    const now = shellAssignment();
    await work.accept(early);
    await work.accept(now);
    // The run due now is not held behind the one that waits for its time.
    await finishedOf(now.instanceId);
    const id = early.instanceId;
    expect(reports().map(describeReport)).toContain(`ack ${id}`);
    expect(reports().map(describeReport)).not.toContain(`started ${id}`);
    expect(work.activeInstanceIds()).toContain(id);
    const started = await reportMatching('started', (report) => report.input.instanceId === id);
    expect(new Date(started.input.startedAt).getTime()).toBeGreaterThanOrEqual(startAt.getTime());
    await finishedOf(id);
  });

  it('starts a run due within a second on its time, acknowledged by its start alone', async () => {
    const work = manager({ isDryRun: true });
    const startAt = new Date(Date.now() + 300);
    const soon = shellAssignment({ startAt: startAt.toISOString() });
    await work.accept(soon);
    // Waiting for its time, the run is here, journaled by nobody and acknowledged by nothing.
    expect(work.activeInstanceIds()).toEqual([soon.instanceId]);
    expect((await journal.entries()).map((entry) => entry.assignment.instanceId)).toEqual([]);
    const started = await reportMatching('started', (r) => r.input.instanceId === soon.instanceId);
    expect(new Date(started.input.startedAt).getTime()).toBeGreaterThanOrEqual(startAt.getTime());
    await finishedOf(soon.instanceId);
    expect(reports().map(describeReport)).toEqual([
      `started ${soon.instanceId}`,
      `finished ${soon.instanceId} FINISHED`,
    ]);
  });

  it('acknowledges a run due soon that finds no room on its time, and starts it when room frees', async () => {
    const work = manager({ capacity: 1 });
    const busy = shellAssignment({ command: 'sleep 0.6' });
    const soon = shellAssignment({
      command: 'true',
      startAt: new Date(Date.now() + 200).toISOString(),
    });
    await work.accept(busy);
    await work.accept(soon);
    await finishedOf(soon.instanceId);
    const order = reports().map(describeReport);
    // Acknowledged once due and waiting for room (else the server would send it again), and
    // started only after the run that held the room.
    expect(order.indexOf(`ack ${soon.instanceId}`)).toBeGreaterThan(-1);
    expect(order.indexOf(`ack ${soon.instanceId}`)).toBeLessThan(
      order.indexOf(`finished ${busy.instanceId} FINISHED`),
    );
    expect(order.indexOf(`started ${soon.instanceId}`)).toBeGreaterThan(
      order.indexOf(`finished ${busy.instanceId} FINISHED`),
    );
  });

  it('cancels a run that waits for its startAt: it never starts', async () => {
    const work = manager({ isDryRun: true });
    const waiting = shellAssignment({ startAt: new Date(Date.now() + 300).toISOString() });
    await work.accept(waiting);
    await work.cancel(waiting, 'not needed');
    expect((await finishedOf(waiting.instanceId)).input.status).toBe('MANUAL_CANCELLATION');
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(reports().map(describeReport)).not.toContain(`started ${waiting.instanceId}`);
    expect(work.activeInstanceIds()).toEqual([]);
  });

  it('kills runs the server abandoned (heartbeat answer)', async () => {
    const work = manager();
    const assignment = shellAssignment({ command: 'echo go; sleep 30' });
    await work.accept(assignment);
    await reportMatching('logChunk');
    await work.abandon([assignment.instanceId]);
    expect((await finishedOf(assignment.instanceId)).input.status).toBe('MANUAL_CANCELLATION');
  });

  it('after a restart, runs what was queued and reports what was running as unknown', async () => {
    const queued = shellAssignment({ command: 'echo resumed' });
    const interrupted = shellAssignment({ command: 'sleep 30' });
    await journal.write({ assignment: queued, startedAt: null });
    await journal.write({ assignment: interrupted, startedAt: '2030-01-01T00:00:00.000Z' });

    const work = manager();
    await work.recover();
    expect((await finishedOf(queued.instanceId)).input).toMatchObject({
      status: 'FINISHED',
      result: 'resumed\n',
    });
    const lost = await finishedOf(interrupted.instanceId);
    expect(lost.input.status).toBe('ABNORMAL_ENDING');
    expect(lost.input.statusReason).toContain(
      'the executor stopped while this run was in progress',
    );
    expect(reports().map(describeReport)).not.toContain(`started ${interrupted.instanceId}`);
    await work.whenNoneRunning();
    expect(await journal.entries()).toEqual([]);
  });

  it('treats runs that still have reports in the outbox as already here', async () => {
    const assignment = shellAssignment();
    const work = manager({ knownRuns: [assignment] });
    await work.accept(assignment);
    expect(reports().map(describeReport)).toEqual([`ack ${assignment.instanceId}`]);
  });

  it('on shutdown, lets running work finish and keeps queued work for the next start', async () => {
    const work = manager({ capacity: 1 });
    const running = shellAssignment({ command: 'sleep 0.3' });
    const queued = shellAssignment();
    await work.accept(running);
    await work.accept(queued);
    work.stopStartingRuns();
    await work.whenNoneRunning();
    expect((await finishedOf(running.instanceId)).input.status).toBe('FINISHED');
    expect((await journal.entries()).map((entry) => entry.assignment.instanceId)).toEqual([
      queued.instanceId,
    ]);
  });

  it('journals the process group of a running command, and forgets the run once it ends', async () => {
    const work = manager();
    const assignment = shellAssignment({ command: 'echo $$; sleep 30' });
    await work.accept(assignment);
    const printed = await reportMatching('logChunk', (report) => report.chunk.content !== '');
    const groupId = Number(printed.chunk.content.trim());
    // Written right after the spawn, while the command runs.
    let [entry] = await journal.entries();
    while (!entry?.processGroup) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      [entry] = await journal.entries();
    }
    expect(entry).toMatchObject({
      assignment: { instanceId: assignment.instanceId },
      startedAt: expect.any(String),
      processGroup: { groupId, leaderStartTime: expect.anything(), bootId: expect.anything() },
    });
    await work.cancel(assignment, 'done looking');
    await work.whenNoneRunning();
    expect(await journal.entries()).toEqual([]);

    // A command over before its group is journaled leaves no entry behind either.
    await work.accept(shellAssignment({ command: 'true' }));
    await work.whenNoneRunning();
    expect(await journal.entries()).toEqual([]);
  });

  it('after a crash, stops what a running run left behind before reporting it', async () => {
    const { assignment, groupId } = await crashedRun('touch "$READY"; sleep 30 & sleep 30');
    expect(isGroupAlive(groupId)).toBe(true);

    const work = manager(); // A new process of the executor, on the same state folder.
    await work.recover();
    expect(isGroupAlive(groupId)).toBe(false);
    const finished = await finishedOf(assignment.instanceId);
    expect(finished.input).toMatchObject({ status: 'ABNORMAL_ENDING' });
    expect(finished.input.statusReason).toContain(
      'the executor stopped while this run was in progress',
    );
    expect(finished.input.statusReason).toContain(
      `its leftover process group ${groupId} was still running and was stopped (SIGTERM)`,
    );
    expect(await journal.entries()).toEqual([]);
  });

  it('after a crash, kills a leftover that ignores SIGTERM once the grace is over', async () => {
    const stubborn = await crashedRun('trap "" TERM; touch "$READY"; sleep 30');
    const polite = await crashedRun('touch "$READY"; sleep 30');
    const startedAt = Date.now();
    await manager().recover();
    // Both within about one grace (300 ms): the groups are stopped at the same time.
    expect(Date.now() - startedAt).toBeLessThan(2_000);
    expect(isGroupAlive(stubborn.groupId)).toBe(false);
    expect(isGroupAlive(polite.groupId)).toBe(false);
    expect((await finishedOf(stubborn.assignment.instanceId)).input.statusReason).toContain(
      'was stopped (SIGKILL)',
    );
    expect((await finishedOf(polite.assignment.instanceId)).input.statusReason).toContain(
      'was stopped (SIGTERM)',
    );
  });

  it.skipIf(!existsSync('/proc/self/stat'))(
    'after a crash, leaves alone a group whose id now belongs to another process',
    async () => {
      const { assignment, processGroup, groupId } = await crashedRun('touch "$READY"; sleep 30');
      // As if the run's group ended and its id was reused by a process started since.
      await journal.write({
        assignment,
        startedAt: new Date().toISOString(),
        processGroup: { ...processGroup, leaderStartTime: '1' },
      });
      await manager().recover();
      expect(isGroupAlive(groupId)).toBe(true);
      const finished = await finishedOf(assignment.instanceId);
      expect(finished.input.status).toBe('ABNORMAL_ENDING');
      expect(finished.input.statusReason).not.toContain('leftover');
    },
  );
});
