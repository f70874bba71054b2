import type { Logger } from '../logger.js';
import type { Outbox } from '../outbox/outbox.js';
import { runKeyString, type Report, type RunKey } from '../outbox/report.js';
import { startHttpRun } from '../runner/http-runner.js';
import { leftoverGroupStates, terminateGroups } from '../runner/process-group.js';
import {
  errorMessage,
  type RunContext,
  type RunHandle,
  type RunOutcome,
} from '../runner/run-outcome.js';
import { startDryRun } from '../runner/dry-runner.js';
import { startShellRun } from '../runner/shell-runner.js';
import type { ExecutorAssignment } from './executor-message.js';
import type { JournalEntry, RunJournal } from './run-journal.js';

/** How many finished runs are remembered to recognise a replayed assignment. */
const rememberedFinishedRuns = 10_000;
/**
 * A run due within this long is not acknowledged ahead of its time: if it starts on time, its
 * `started` report is the acknowledgement, as for a run that starts at once. Well under the
 * server's shortest acknowledgement timeout (2 s), so the server does not dispatch it again
 * meanwhile.
 */
const startsSoonMs = 1_000;

export interface WorkManagerOptions {
  outbox: Outbox;
  journal: RunJournal;
  /** Runs at once; more wait in a queue. */
  capacity: number;
  /** SHELL: SIGKILL this long after SIGTERM. */
  killGraceMs: number;
  /** SHELL: where a command without a working directory runs. */
  defaultWorkingDirectory: string;
  logger: Logger;
  /** Report every run FINISHED without executing it (`--dry-run`). */
  isDryRun?: boolean;
  /** Runs that already have reports in the outbox: a replay of their assignment is a duplicate. */
  knownRuns?: Iterable<RunKey>;
}

interface ActiveRun {
  readonly assignment: ExecutorAssignment;
  state: 'queued' | 'running';
  handle?: RunHandle;
  cancelReason?: string;
  /** Set while the run waits for its `startAt` (outside the queue). */
  startTimer?: NodeJS.Timeout;
  /**
   * Not acknowledged: its `started` report (journaled first) will be, if it finds room on its
   * time; one report and one database statement fewer per run. Until that is delivered the
   * server may replay the assignment, which is recognised as a duplicate.
   */
  isAcknowledgedByStart?: boolean;
}

/** How long until `assignment` may start (0: now). */
function waitBeforeStart(assignment: ExecutorAssignment): number {
  // Absent in journal entries written by older versions.
  if (!assignment.startAt) return 0;
  return Math.max(0, new Date(assignment.startAt).getTime() - Date.now());
}

/**
 * Owns the runs of this executor: accepts assignments once each (delivery is at least once),
 * acknowledges those that must wait for room (a run that starts at once is acknowledged by its
 * `started` report), runs at most `capacity` at a time, cancels on request, and puts every
 * report in the outbox in order: acknowledge, started, log chunks, finished.
 */
export class WorkManager {
  private readonly active = new Map<string, ActiveRun>();
  private readonly queue: string[] = [];
  private readonly finished = new Set<string>();
  /** Runs holding a slot: started, and their outcome not yet known. */
  private runningCount = 0;
  /** Runs started whose final report is not yet in the outbox (what a shutdown waits for). */
  private unreportedCount = 0;
  private isStartingRuns = true;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: WorkManagerOptions) {
    for (const run of options.knownRuns ?? []) this.rememberFinished(runKeyString(run));
  }

  /**
   * Picks up what an earlier process of this executor left in the journal: queued runs are run,
   * runs that had started are reported ABNORMAL_ENDING (nobody knows how they ended), once what
   * they left running is stopped: their commands run detached, so a crash of the executor leaves
   * them running, and the server has meanwhile given their work to another attempt.
   */
  async recover(): Promise<void> {
    const entries = await this.options.journal.entries();
    const leftovers = await this.stopLeftovers(
      entries.filter(({ startedAt }) => startedAt !== null),
    );
    for (const entry of entries) {
      const { assignment, startedAt } = entry;
      const key = runKeyString(assignment);
      if (startedAt === null) {
        this.options.logger.info('resuming a run accepted before a restart', { run: key });
        const entry: ActiveRun = { assignment, state: 'queued' };
        this.active.set(key, entry);
        await this.enqueueOnTime(key, entry);
        continue;
      }
      this.options.logger.warn('a run was in progress when the executor stopped', { run: key });
      const stopped = leftovers.get(entry) ?? '';
      await this.report({
        type: 'finished',
        input: {
          instanceId: assignment.instanceId,
          attempt: assignment.attempt,
          status: 'ABNORMAL_ENDING',
          finishedAt: new Date().toISOString(),
          statusReason: `the executor stopped while this run was in progress (started ${startedAt}); its outcome is unknown${stopped}`,
        },
      });
      await this.options.journal.remove(assignment);
      this.rememberFinished(key);
    }
    this.startQueuedRuns();
  }

  /** Takes an assignment; a duplicate of one already here is only acknowledged again. */
  async accept(assignment: ExecutorAssignment): Promise<void> {
    const key = runKeyString(assignment);
    const run: RunKey = { instanceId: assignment.instanceId, attempt: assignment.attempt };
    if (this.active.has(key) || this.finished.has(key)) {
      this.options.logger.debug('duplicate assignment; acknowledging again', { run: key });
      await this.report({ type: 'acknowledge', run });
      return;
    }
    const entry: ActiveRun = { assignment, state: 'queued' };
    this.active.set(key, entry);
    this.options.logger.info('assignment accepted', { run: key, task: assignment.taskName });
    if (waitBeforeStart(assignment) <= startsSoonMs) {
      // Due now, or soon (a cron fire sent just ahead of its time, the server's lead: 1 s by
      // default): no journal write and acknowledgement first. For a fire they put two fsyncs
      // between its arrival and its timer, and a fresh executor given a second's fires missed
      // their time.
      entry.isAcknowledgedByStart = true;
      await this.enqueueOnTime(key, entry);
      return;
    }
    if (await this.acknowledgeWaiting(key, entry)) await this.enqueueOnTime(key, entry);
  }

  /**
   * Journals and acknowledges a run that cannot start now; false if it was cancelled meanwhile.
   * Journal first: once the acknowledgement is delivered, the server stops replaying it.
   */
  private async acknowledgeWaiting(key: string, entry: ActiveRun): Promise<boolean> {
    const { assignment } = entry;
    const run: RunKey = { instanceId: assignment.instanceId, attempt: assignment.attempt };
    await this.options.journal
      .write({ assignment, startedAt: null })
      .catch((error: unknown) =>
        this.options.logger.error('cannot journal a run', { run: key, error }),
      );
    await this.report({ type: 'acknowledge', run });
    if (this.active.get(key) !== entry) {
      // Cancelled meanwhile: its journal file may have been written after cancel() removed it.
      await this.options.journal.remove(run);
      return false;
    }
    return true;
  }

  /**
   * Queues a run now, or at its `startAt` (a cron fire the server sent ahead of its time): it
   * waits outside the queue, so runs due now are not held behind it.
   */
  private async enqueueOnTime(key: string, entry: ActiveRun): Promise<void> {
    const waitMs = waitBeforeStart(entry.assignment);
    if (waitMs > 0) {
      entry.startTimer = setTimeout(() => {
        entry.startTimer = undefined;
        // Looked at again, not queued outright: timers keep a monotonic clock and may fire a
        // millisecond before the wall clock's startAt (then it is re-armed; never started early).
        if (this.active.get(key) !== entry) return;
        this.enqueueOnTime(key, entry).catch((error: unknown) =>
          this.options.logger.error('cannot acknowledge a run', { run: key, error }),
        );
      }, waitMs);
      return;
    }
    if (entry.isAcknowledgedByStart && !this.hasRoomNow()) {
      // It has to wait for room: acknowledged now, or the server sends it again.
      entry.isAcknowledgedByStart = false;
      if (!(await this.acknowledgeWaiting(key, entry))) return;
    }
    this.queue.push(key);
    this.startQueuedRuns();
  }

  /** Stops a run (queued or running); it is reported MANUAL_CANCELLATION. */
  async cancel(target: RunKey, reason: string): Promise<void> {
    // Only the key: `target` may be a whole message, whose other fields are no report's input.
    const run: RunKey = { instanceId: target.instanceId, attempt: target.attempt };
    const key = runKeyString(run);
    const entry = this.active.get(key);
    if (!entry) {
      this.options.logger.debug('cancellation of a run that is not running here', { run: key });
      return;
    }
    this.options.logger.info('cancelling a run', { run: key, reason });
    if (entry.state === 'running') {
      entry.cancelReason ??= reason;
      entry.handle?.cancel(reason);
      return;
    }
    this.active.delete(key);
    clearTimeout(entry.startTimer);
    const queued = this.queue.indexOf(key);
    if (queued >= 0) this.queue.splice(queued, 1);
    await this.report({
      type: 'finished',
      input: {
        ...run,
        status: 'MANUAL_CANCELLATION',
        finishedAt: new Date().toISOString(),
        statusReason: `${reason} (before it started)`,
      },
    });
    await this.options.journal.remove(run);
    this.rememberFinished(key);
  }

  /** Cancels every attempt of these instances (the server's heartbeat answer says so). */
  async abandon(instanceIds: readonly string[]): Promise<void> {
    const wanted = new Set(instanceIds);
    const runs = [...this.active.values()]
      .map(({ assignment }) => assignment)
      .filter(({ instanceId }) => wanted.has(instanceId));
    for (const run of runs) {
      await this.cancel(run, 'the server no longer expects this executor to run it');
    }
  }

  /** Runs accepted here and not yet ended (queued, waiting for their time, or running). */
  activeRuns(): RunKey[] {
    return [...this.active.values()].map(({ assignment }) => ({
      instanceId: assignment.instanceId,
      attempt: assignment.attempt,
    }));
  }

  /** Instances queued or running here, for the heartbeat. */
  activeInstanceIds(): string[] {
    return [...new Set([...this.active.values()].map(({ assignment }) => assignment.instanceId))];
  }

  /**
   * For shutdown: queued runs stay queued (and journaled, for the next start). A run due soon
   * that was never acknowledged is not journaled: the server sends it again to the next process.
   */
  stopStartingRuns(): void {
    this.isStartingRuns = false;
    for (const entry of this.active.values()) {
      clearTimeout(entry.startTimer);
      entry.startTimer = undefined;
    }
  }

  /** Resolves when no run is in progress. */
  whenNoneRunning(): Promise<void> {
    if (this.unreportedCount === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Cancels every run in progress (second shutdown signal). */
  cancelRunning(reason: string): void {
    for (const entry of this.active.values()) {
      if (entry.state !== 'running') continue;
      entry.cancelReason ??= reason;
      entry.handle?.cancel(reason);
    }
  }

  /** Whether a run accepted now would start at once. */
  private hasRoomNow(): boolean {
    return (
      this.isStartingRuns && this.runningCount < this.options.capacity && this.queue.length === 0
    );
  }

  private startQueuedRuns(): void {
    while (this.isStartingRuns && this.runningCount < this.options.capacity) {
      const key = this.queue.shift();
      if (key === undefined) return;
      const entry = this.active.get(key);
      if (!entry) continue;
      entry.state = 'running';
      this.runningCount += 1;
      this.unreportedCount += 1;
      let isSlotHeld = true;
      // The slot comes free as soon as the run has ended, not once its final report is written:
      // the server frees it when that report arrives and may send the next run at once, which
      // found the slot still taken and waited behind a journal fsync.
      const releaseSlot = (): void => {
        if (!isSlotHeld) return;
        isSlotHeld = false;
        this.runningCount -= 1;
        this.startQueuedRuns();
      };
      void this.execute(key, entry, releaseSlot).finally(() => {
        releaseSlot();
        this.unreportedCount -= 1;
        if (this.unreportedCount === 0) {
          for (const resolve of this.idleWaiters.splice(0)) resolve();
        }
      });
    }
  }

  private async execute(key: string, entry: ActiveRun, releaseSlot: () => void): Promise<void> {
    const { assignment } = entry;
    const run: RunKey = { instanceId: assignment.instanceId, attempt: assignment.attempt };
    const startedAt = new Date();
    // Durations from the monotonic clock: a wall-clock step during a run must not make one
    // negative (the server refuses those).
    const startedAtMonotonic = performance.now();
    // Not fsynced: after a crash of this process the page cache still has it, and after a
    // machine crash the server ends the run if its entry is lost (RunReconciliation). An fsync
    // here stood between every run and its start report: ~20% of the no-op bench's throughput.
    await this.options.journal
      .writeForProcessCrash({ assignment, startedAt: startedAt.toISOString() })
      .catch((error: unknown) =>
        this.options.logger.error('cannot journal a run', { run: key, error }),
      );
    await this.report({ type: 'started', input: { ...run, startedAt: startedAt.toISOString() } });
    const context: RunContext = {
      assignment,
      onChunk: (chunk) => void this.report({ type: 'logChunk', run, chunk }),
      killGraceMs: this.options.killGraceMs,
      defaultWorkingDirectory: this.options.defaultWorkingDirectory,
      // For stopping what a crashed executor left running: of no use after a machine crash.
      onProcessGroup: (processGroup) =>
        void this.options.journal
          .writeForProcessCrash({ assignment, startedAt: startedAt.toISOString(), processGroup })
          .catch((error: unknown) =>
            this.options.logger.error('cannot journal the process group of a run', {
              run: key,
              error,
            }),
          ),
    };
    this.options.logger.info('run started', { run: key, kind: assignment.kind });
    entry.handle = this.options.isDryRun
      ? startDryRun(context)
      : assignment.kind === 'HTTP'
        ? startHttpRun(context)
        : startShellRun(context);
    if (entry.cancelReason) entry.handle.cancel(entry.cancelReason);
    const outcome: RunOutcome = await entry.handle.outcome;
    const finishedAt = new Date();
    releaseSlot();
    this.options.logger.info('run ended', {
      run: key,
      status: outcome.status,
      exitCode: outcome.exitCode,
      reason: outcome.statusReason,
    });
    await this.report({
      type: 'finished',
      input: {
        ...run,
        status: outcome.status,
        exitCode: outcome.exitCode,
        finishedAt: finishedAt.toISOString(),
        durationMs: Math.round(performance.now() - startedAtMonotonic),
        result: outcome.result,
        statusReason: outcome.statusReason,
      },
    });
    await this.options.journal.remove(run).catch(() => undefined);
    this.active.delete(key);
    this.rememberFinished(key);
  }

  /**
   * Ends the process groups that runs of an earlier process left behind and that still run
   * (TERM, then KILL after the grace), all at once: each may take the whole grace. Resolves with
   * the words each run's report adds about it.
   */
  private async stopLeftovers(
    entries: readonly JournalEntry[],
  ): Promise<Map<JournalEntry, string>> {
    const { logger, killGraceMs } = this.options;
    const words = new Map<JournalEntry, string>();
    const journaled = entries.flatMap((entry) =>
      entry.processGroup
        ? [
            {
              entry,
              group: entry.processGroup,
              fields: { run: runKeyString(entry.assignment), group: entry.processGroup.groupId },
            },
          ]
        : [],
    );
    const cannotStop = (leftovers: typeof journaled, error: unknown): void => {
      for (const { entry, group, fields } of leftovers) {
        logger.error('cannot stop the leftover process group of an interrupted run', {
          ...fields,
          error,
        });
        words.set(
          entry,
          `; its leftover process group ${group.groupId} could not be stopped: ${errorMessage(error)}`,
        );
      }
    };
    let running: typeof journaled;
    try {
      const states = leftoverGroupStates(journaled.map(({ group }) => group));
      running = journaled.filter(({ fields }, index) => {
        if (states[index] === 'reused') {
          logger.info('the process group of an interrupted run ended; its id is reused', fields);
        }
        return states[index] === 'running';
      });
    } catch (error) {
      cannotStop(journaled, error);
      return words;
    }
    if (running.length === 0) return words;
    for (const { fields } of running) {
      logger.warn('stopping the leftover process group of an interrupted run', fields);
    }
    try {
      const signals = await terminateGroups(
        running.map(({ group }) => group.groupId),
        killGraceMs,
      );
      for (const { entry, group } of running) {
        const signal = signals.get(group.groupId) ?? 'SIGTERM';
        words.set(
          entry,
          `; its leftover process group ${group.groupId} was still running and was stopped (${signal})`,
        );
      }
    } catch (error) {
      cannotStop(running, error);
    }
    return words;
  }

  /** Appends to the outbox; a disk failure is logged, never thrown into a run. */
  private async report(report: Report): Promise<void> {
    try {
      await this.options.outbox.append(report);
    } catch (error) {
      this.options.logger.error('cannot write a report to the outbox', {
        report: report.type,
        error,
      });
    }
  }

  private rememberFinished(key: string): void {
    this.finished.add(key);
    if (this.finished.size > rememberedFinishedRuns) {
      const oldest = this.finished.values().next().value;
      if (oldest !== undefined) this.finished.delete(oldest);
    }
  }
}
