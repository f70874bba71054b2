import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { runKeyString, type RunKey } from '../outbox/report.js';
import type { ProcessGroupIdentity } from '../runner/process-group.js';
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

/**
 * One file per accepted (acknowledged) run, under `<state-dir>/runs/`. Once acknowledged, the
 * server no longer replays an assignment, so after a restart this is the only record of work
 * that was queued (run it now) or running (its outcome is unknown, and what it left running is
 * stopped: report it so).
 */
export class RunJournal {
  /**
   * The last write or removal of each run's file: operations on one file run in call order, so
   * that a late write (the process group of a command that ended at once) never lands after the
   * removal and resurrects a finished run.
   */
  private readonly pending = new Map<string, Promise<void>>();

  private constructor(private readonly folder: string) {}

  static async open(folder: string): Promise<RunJournal> {
    await mkdir(folder, { recursive: true });
    return new RunJournal(folder);
  }

  async entries(): Promise<JournalEntry[]> {
    const entries: JournalEntry[] = [];
    for (const name of await readdir(this.folder)) {
      if (!name.endsWith('.json')) continue;
      try {
        entries.push(JSON.parse(await readFile(path.join(this.folder, name), 'utf8')));
      } catch {
        // A torn write: the rename below never happened, so this is a leftover temporary file.
      }
    }
    return entries;
  }

  write(entry: JournalEntry): Promise<void> {
    const file = this.fileOf(entry.assignment);
    return this.inOrder(file, async () => {
      const temporary = `${file}.tmp`;
      const handle = await open(temporary, 'w');
      try {
        await handle.writeFile(JSON.stringify(entry));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, file);
    });
  }

  remove(run: RunKey): Promise<void> {
    const file = this.fileOf(run);
    return this.inOrder(file, () => rm(file, { force: true }));
  }

  private inOrder(file: string, operation: () => Promise<void>): Promise<void> {
    const previous = this.pending.get(file) ?? Promise.resolve();
    const current = previous.then(operation);
    const settled = current.catch(() => undefined); // The caller sees the failure.
    this.pending.set(file, settled);
    void settled.then(() => {
      if (this.pending.get(file) === settled) this.pending.delete(file);
    });
    return current;
  }

  private fileOf(run: RunKey): string {
    return path.join(this.folder, `${encodeURIComponent(runKeyString(run))}.json`);
  }
}
