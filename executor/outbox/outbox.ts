import {
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import path from 'node:path';
import { GroupCommit } from '../shared/group-commit.js';
import type { OutboxRecord, Report } from './report.js';

/** A new segment file is started once the current one is this big. */
const segmentRotationBytes = 4 * 1024 * 1024;
const progressFileName = 'delivered.json';
const segmentPattern = /^segment-(\d+)\.jsonl$/;

interface Segment {
  readonly file: string;
  lastId: number;
  sizeBytes: number;
}

/**
 * Durable, ordered reports for the server (design.md, protocol 4). Records are JSON lines in
 * segment files; `delivered.json` holds the id of the last delivered record. Invariants: a record
 * is visible to `peek` only once written, and a final report or log chunk only once fsynced (with
 * everything written before it); ids grow in append order; a segment is deleted as soon as all its
 * records are delivered, so the folder holds little more than what is undelivered. One process
 * uses a folder at a time.
 *
 * `started` and `acknowledge` reports go out without waiting for an fsync: the run journal holds
 * what they say durably before they are appended, and if a crash loses one, recovery reports the
 * run from the journal. That halves a short run's fsyncs in the outbox.
 */
export class Outbox {
  private readonly undelivered: OutboxRecord[] = [];
  private readonly segments: Segment[] = [];
  private current: { segment: Segment; handle: FileHandle } | undefined;
  private readonly commits = new GroupCommit<OutboxRecord>((batch) => this.writeBatch(batch));
  private readonly progressWrites = new GroupCommit<number>((ids) => this.writeProgress(ids));
  private readonly appendListeners = new Set<() => void>();

  private constructor(
    readonly folder: string,
    private nextId: number,
    private lastDeliveredId: number,
  ) {}

  /** Opens (creating if needed) the outbox in `folder`, with what earlier runs left undelivered. */
  static async open(folder: string): Promise<Outbox> {
    await mkdir(folder, { recursive: true });
    let lastDeliveredId = 0;
    try {
      const progress = JSON.parse(await readFile(path.join(folder, progressFileName), 'utf8'));
      lastDeliveredId = Number(progress.lastDeliveredId) || 0;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const names = (await readdir(folder))
      .map((name) => ({ name, match: segmentPattern.exec(name) }))
      .filter((entry) => entry.match)
      .sort((a, b) => Number(a.match![1]) - Number(b.match![1]));
    const outbox = new Outbox(folder, lastDeliveredId + 1, lastDeliveredId);
    for (const { name } of names) {
      const file = path.join(folder, name);
      const text = await readFile(file, 'utf8');
      const segment: Segment = { file, lastId: 0, sizeBytes: Buffer.byteLength(text) };
      for (const line of text.split('\n')) {
        if (!line) continue;
        let record: OutboxRecord;
        try {
          record = JSON.parse(line) as OutboxRecord;
        } catch {
          // Only the last line can be torn (a crash during a write); it was never acknowledged
          // to its caller as durable, so it is safe to skip.
          continue;
        }
        segment.lastId = Math.max(segment.lastId, record.id);
        outbox.nextId = Math.max(outbox.nextId, record.id + 1);
        if (record.id > lastDeliveredId) outbox.undelivered.push(record);
      }
      outbox.segments.push(segment);
    }
    await outbox.deleteDeliveredSegments();
    return outbox;
  }

  /** Number of records not yet delivered (durable ones only). */
  get size(): number {
    return this.undelivered.length;
  }

  /**
   * Resolves once the report is written (fsynced, unless it is `started` or `acknowledge`);
   * reports become deliverable in call order.
   */
  append(report: Report): Promise<OutboxRecord> {
    const record: OutboxRecord = { id: this.nextId++, report };
    return this.commits.add(record).then(() => record);
  }

  /** The oldest undelivered records, at most `limit`, in order. */
  peek(limit: number): readonly OutboxRecord[] {
    return this.undelivered.slice(0, limit);
  }

  /** Calls `listener` whenever new records become deliverable; returns its removal. */
  onAppended(listener: () => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  /**
   * Records that every record up to `throughId` is done with (delivered or dropped): at once in
   * memory, and on disk by the promise. Progress written while an earlier write is in flight
   * goes to disk in one write after it, so a busy sender costs one file write per fsync, not one
   * per call. Progress lost in a crash only means delivered reports are sent again, which the
   * server takes as harmless replays.
   */
  markDelivered(throughId: number): Promise<void> {
    if (throughId <= this.lastDeliveredId) return Promise.resolve();
    this.lastDeliveredId = throughId;
    while (this.undelivered[0] && this.undelivered[0].id <= throughId) this.undelivered.shift();
    return this.progressWrites.add(throughId);
  }

  private async writeProgress(throughIds: readonly number[]): Promise<void> {
    const progressFile = path.join(this.folder, progressFileName);
    const temporary = `${progressFile}.tmp`;
    // Not fsynced: a rename replaces the file whole (old or new content after a crash), and
    // stale progress only means harmless replays.
    await writeFile(temporary, JSON.stringify({ lastDeliveredId: Math.max(...throughIds) }));
    await rename(temporary, progressFile);
    await this.deleteDeliveredSegments();
  }

  /** Waits for appends in progress and closes the open segment. */
  async close(): Promise<void> {
    await this.commits.settled();
    await this.progressWrites.settled();
    await this.current?.handle.close();
    this.current = undefined;
  }

  /** One group commit: the batch is written (and fsynced if it must be), then deliverable. */
  private async writeBatch(batch: readonly OutboxRecord[]): Promise<void> {
    const text = batch.map((record) => JSON.stringify(record) + '\n').join('');
    const { segment, handle } = await this.writableSegment(batch[0]!.id);
    await handle.write(text);
    if (batch.some((record) => needsFsync(record.report))) await handle.sync();
    segment.sizeBytes += Buffer.byteLength(text);
    segment.lastId = batch[batch.length - 1]!.id;
    this.undelivered.push(...batch);
    for (const listener of this.appendListeners) listener();
  }

  private async writableSegment(
    firstId: number,
  ): Promise<{ segment: Segment; handle: FileHandle }> {
    if (this.current && this.current.segment.sizeBytes < segmentRotationBytes) return this.current;
    await this.current?.handle.close();
    const file = path.join(this.folder, `segment-${String(firstId).padStart(16, '0')}.jsonl`);
    const handle = await open(file, 'a');
    const segment: Segment = { file, lastId: firstId - 1, sizeBytes: 0 };
    this.segments.push(segment);
    this.current = { segment, handle };
    // The new file's directory entry must survive a crash too.
    const directory = await open(this.folder, 'r');
    await directory.sync().finally(() => directory.close());
    return this.current;
  }

  private async deleteDeliveredSegments(): Promise<void> {
    for (const segment of [...this.segments]) {
      if (segment.lastId > this.lastDeliveredId) continue;
      if (this.current?.segment === segment) {
        // Only while no write can land in it.
        if (!this.commits.isIdle) continue;
        const { handle } = this.current;
        this.current = undefined;
        await handle.close();
      }
      this.segments.splice(this.segments.indexOf(segment), 1);
      await rm(segment.file, { force: true });
    }
  }
}

/** Whether a report must be on disk before it is delivered (see Outbox). */
function needsFsync(report: Report): boolean {
  return report.type !== 'started' && report.type !== 'acknowledge';
}
