import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../executor/logger.js';
import { Outbox } from '../../../../executor/outbox/outbox.js';
import type { Report, RunKey } from '../../../../executor/outbox/report.js';
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
  afterEach(async () => {
    await outbox.close();
    rmSync(folder, { recursive: true, force: true });
  });

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

  it('acknowledges, starts, streams and finishes a run, in that order', async () => {
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
      `ack ${id}`,
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
    expect(reports().map(describeReport)).toEqual([
      `ack ${id}`,
      `started ${id}`,
      `finished ${id} FINISHED`,
    ]);
  });

  it('runs a duplicate delivery once and only acknowledges it again', async () => {
    const work = manager();
    const assignment = shellAssignment({ command: 'sleep 0.2' });
    await Promise.all([work.accept(assignment), work.accept({ ...assignment })]);
    await finishedOf(assignment.instanceId);
    await work.accept({ ...assignment });
    const kinds = reports().map(describeReport);
    expect(kinds.filter((kind) => kind.startsWith('started'))).toHaveLength(1);
    expect(kinds.filter((kind) => kind.startsWith('ack'))).toHaveLength(3);

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
    // The second starts only once the first is over.
    expect(order.indexOf(`started ${second.instanceId}`)).toBeGreaterThan(
      order.indexOf(`finished ${first.instanceId} FINISHED`),
    );
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
});
