import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { runKeyString, type RunKey } from '../outbox/report.js';
import type { ExecutorAssignment } from './executor-message.js';

/** What the journal keeps about an accepted run until its final report is in the outbox. */
export interface JournalEntry {
  readonly assignment: ExecutorAssignment;
  /** ISO instant the run started; null while it waits for a free slot. */
  readonly startedAt: string | null;
}

/**
 * One file per accepted (acknowledged) run, under `<state-dir>/runs/`. Once acknowledged, the
 * server no longer replays an assignment, so after a restart this is the only record of work
 * that was queued (run it now) or running (its outcome is unknown: report it so).
 */
export class RunJournal {
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

  async write(entry: JournalEntry): Promise<void> {
    const file = this.fileOf(entry.assignment);
    const temporary = `${file}.tmp`;
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(JSON.stringify(entry));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
  }

  async remove(run: RunKey): Promise<void> {
    await rm(this.fileOf(run), { force: true });
  }

  private fileOf(run: RunKey): string {
    return path.join(this.folder, `${encodeURIComponent(runKeyString(run))}.json`);
  }
}
