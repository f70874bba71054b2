import { mkdir, open, readdir, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { runKeyString, type RunKey } from '../outbox/report.js';
import type { ProcessGroupIdentity } from '../runner/process-group.js';
import { appendNow } from '../shared/append-now.js';
import { GroupCommit } from '../shared/group-commit.js';
import type { ExecutorAssignment } from './executor-message.js';

/** What the journal keeps about an accepted run until its final report is in the outbox. */
export interface JournalEntry {
  readonly assignment: ExecutorAssignment;
  /** ISO instant the run started; null while it waits for a free slot. */
  readonly startedAt: string | null;
  /**
   * SHELL, once the command is spawned: its process group, which outlives this process (it is
   * detached), so that a restart after a crash can stop it. Absent in entries of older versions.
   */
  readonly processGroup?: ProcessGroupIdentity;
}

/** One line of the log: an entry written (again), or a run's entry removed. */
type JournalRecord = { put: JournalEntry } | { remove: string };

/** A record as queued for the log, and whether its caller waits for an fsync. */
interface JournalLine {
  readonly text: string;
  readonly isDurable: boolean;
}

const logFileName = 'journal.jsonl';
/** The log is rewritten with only the live entries once it grows past this. */
const compactionBytes = 1024 * 1024;

/**
 * Every accepted (acknowledged) run until its final report is in the outbox, under
 * `<state-dir>/runs/`. Once acknowledged, the server no longer replays an assignment, so after a
 * restart this is the record of work that was queued (run it now) or running (its outcome is
 * unknown, and what it left running is stopped: report it so).
 *
 * Only a queued run's entry is fsynced (`write`): a started run's (`writeForProcessCrash`) needs
 * to outlive this process, not the machine. A machine crash ends the run's processes too, and
 * a started run whose entry it lost is ended by the server when the executor starts again and
 * lists the runs it knows (RunReconciliation).
 *
 * An append-only log of JSON lines with group commit: the writes and removals made while one
 * batch is being fsynced go to disk together in the next, so a burst of runs costs a few fsyncs
 * rather than an open, fsync, close and rename for each (the bench saw that file work dominate a
 * busy executor's CPU). Records reach the disk in call order, so a late write can never land
 * after its run's removal. A torn last line (a crash mid-write) was never acknowledged to its
 * caller and is skipped.
 */
export class RunJournal {
  private readonly commits = new GroupCommit<JournalLine>((lines) => this.appendLines(lines));
  private sizeBytes = 0;

  private constructor(
    private readonly folder: string,
    private readonly live: Map<string, JournalEntry>,
    private handle: FileHandle,
  ) {}

  static async open(folder: string): Promise<RunJournal> {
    await mkdir(folder, { recursive: true });
    const live = new Map<string, JournalEntry>();
    const logFile = path.join(folder, logFileName);
    // Earlier versions kept one file per run: read them, then fold them into the log.
    const legacyFiles = (await readdir(folder)).filter((name) => /\.json(\.tmp)?$/.test(name));
    for (const name of legacyFiles) {
      if (!name.endsWith('.json')) continue;
      try {
        const entry = JSON.parse(await readFile(path.join(folder, name), 'utf8')) as JournalEntry;
        live.set(runKeyString(entry.assignment), entry);
      } catch {
        // A torn write of the old format: its rename never happened.
      }
    }
    let text = '';
    try {
      text = await readFile(logFile, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      let record: JournalRecord;
      try {
        record = JSON.parse(line) as JournalRecord;
      } catch {
        continue;
      }
      if ('put' in record) live.set(runKeyString(record.put.assignment), record.put);
      else live.delete(record.remove);
    }
    // Start from a compact log: only what is live, fsynced before the old log is replaced.
    const handle = await writeCompacted(folder, live);
    for (const name of legacyFiles) await rm(path.join(folder, name), { force: true });
    const journal = new RunJournal(folder, live, handle);
    journal.sizeBytes = (await handle.stat()).size;
    return journal;
  }

  /** The live entries, as of the last call (durable or about to be). */
  async entries(): Promise<JournalEntry[]> {
    return [...this.live.values()];
  }

  /** Resolves once the entry is on disk (fsynced). */
  write(entry: JournalEntry): Promise<void> {
    this.live.set(runKeyString(entry.assignment), entry);
    return this.append({ put: entry }, true);
  }

  /**
   * `write` for what only a crash of this process (not of the machine) needs: resolves once
   * written, without an fsync (the page cache outlives the process; a machine that crashes takes
   * the run's processes with it, and the server ends the runs whose entries it lost: see the
   * class). It reaches the disk with the next fsync of the log.
   */
  writeForProcessCrash(entry: JournalEntry): Promise<void> {
    this.live.set(runKeyString(entry.assignment), entry);
    return this.append({ put: entry }, false);
  }

  /**
   * Resolves once the removal is written, not fsynced: it reaches the disk with the next fsync
   * of the log (any later write). Lost in a crash, it only brings back a run whose final report
   * is already in the outbox: recovery then reports it ABNORMAL_ENDING after that report, and
   * the server takes the second final report of the same attempt as a replay. An fsync per
   * removal was a quarter of a short run's disk work.
   */
  remove(run: RunKey): Promise<void> {
    const key = runKeyString(run);
    if (!this.live.delete(key)) return Promise.resolve();
    return this.append({ remove: key }, false);
  }

  async close(): Promise<void> {
    await this.commits.settled();
    await this.handle.close();
  }

  private append(record: JournalRecord, isDurable: boolean): Promise<void> {
    return this.commits.add({ text: `${JSON.stringify(record)}\n`, isDurable });
  }

  private async appendLines(lines: readonly JournalLine[]): Promise<void> {
    const text = lines.map((line) => line.text).join('');
    appendNow(this.handle.fd, text);
    if (lines.some((line) => line.isDurable)) await this.handle.datasync();
    this.sizeBytes += Buffer.byteLength(text);
    if (this.sizeBytes > compactionBytes) {
      const old = this.handle;
      this.handle = await writeCompacted(this.folder, this.live);
      this.sizeBytes = (await this.handle.stat()).size;
      await old.close();
    }
  }
}

/**
 * Writes the live entries to a new log, fsyncs it, and puts it in place of the old one; returns
 * the new log opened for appending.
 */
async function writeCompacted(
  folder: string,
  live: ReadonlyMap<string, JournalEntry>,
): Promise<FileHandle> {
  const logFile = path.join(folder, logFileName);
  const temporary = `${logFile}.compacting`;
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(
      [...live.values()].map((entry) => `${JSON.stringify({ put: entry })}\n`).join(''),
    );
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, logFile);
  const directory = await open(folder, 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
  return open(logFile, 'a');
}
