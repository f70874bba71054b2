import { writeSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { appendNow } from '../shared/append-now.js';
import { GroupCommit } from '../shared/group-commit.js';
import { runKeyOf, runKeyString, type OutboxRecord, type Report, type RunKey } from './report.js';

/** A new segment file is started once the current one is this big. */
const defaultSegmentRotationBytes = 4 * 1024 * 1024;
const progressFileName = 'delivered.json';
/** The progress file is always this long (JSON padded with spaces), so it is rewritten in place. */
const progressRecordBytes = 64;
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
 * everything written before it); ids grow in append order; a segment is deleted once it is full
 * (rotated) and all its records are delivered, so the folder holds what is undelivered and at
 * most one segment of delivered records. One process uses a folder at a time.
 *
 * No file is created or deleted per report: appends go to the open segment, and progress
 * overwrites `delivered.json` in place. Creating a segment (with an fsync of the folder) and a
 * progress file per delivery made file-system work the largest part of an executor's CPU for a
 * short run (inode allocation, directory fsyncs, a dozen thread-pool trips).
 *
 * `started` and `acknowledge` reports go out without waiting for an fsync: the run journal holds
 * what they say before they are appended, and if a crash loses one, recovery reports the run
 * from the journal, or (a machine crash that took the journal's entry too) the server ends it
 * when the executor lists the runs it knows. That halves a short run's fsyncs in the outbox.
 */
export class Outbox {
  private readonly undelivered: OutboxRecord[] = [];
  private readonly segments: Segment[] = [];
  private current: { segment: Segment; handle: FileHandle } | undefined;
  private readonly commits = new GroupCommit<OutboxRecord>((batch) => this.writeBatch(batch));
  private readonly progressWrites = new GroupCommit<number>((ids) => this.writeProgress(ids));
  private readonly appendListeners = new Set<() => void>();
  private progressHandle: FileHandle | undefined;
  /** Runs whose final report is appended but not yet written, with how many such reports. */
  private readonly finalsBeingWritten = new Map<string, { run: RunKey; count: number }>();

  private constructor(
    readonly folder: string,
    private nextId: number,
    private lastDeliveredId: number,
    private readonly segmentRotationBytes: number,
  ) {}

  /** Opens (creating if needed) the outbox in `folder`, with what earlier runs left undelivered. */
  static async open(
    folder: string,
    options: { segmentRotationBytes?: number } = {},
  ): Promise<Outbox> {
    await mkdir(folder, { recursive: true });
    const lastDeliveredId = await readProgress(path.join(folder, progressFileName));
    const names = (await readdir(folder))
      .map((name) => ({ name, match: segmentPattern.exec(name) }))
      .filter((entry) => entry.match)
      .sort((a, b) => Number(a.match![1]) - Number(b.match![1]));
    const outbox = new Outbox(
      folder,
      lastDeliveredId + 1,
      lastDeliveredId,
      options.segmentRotationBytes ?? defaultSegmentRotationBytes,
    );
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
    if (report.type === 'finished') {
      const run = runKeyOf(report);
      const key = runKeyString(run);
      const count = (this.finalsBeingWritten.get(key)?.count ?? 0) + 1;
      this.finalsBeingWritten.set(key, { run, count });
    }
    return this.commits.add(record).then(() => record);
  }

  /**
   * Whether a final report of `run` is appended and not yet deliverable (its fsync is under
   * way): a sender holding the run's `started` can wait for it and send both in one call.
   */
  isFinalBeingWritten(run: RunKey): boolean {
    return this.finalsBeingWritten.has(runKeyString(run));
  }

  /** Runs with a final report here that the server has not taken yet (written or being written). */
  runsWithUndeliveredFinals(): RunKey[] {
    const runs = [...this.finalsBeingWritten.values()].map(({ run }) => run);
    for (const { report } of this.undelivered) {
      if (report.type === 'finished') runs.push(runKeyOf(report));
    }
    return runs;
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
    // Overwritten in place and not fsynced: one write of a few bytes at offset 0. Stale or torn
    // progress after a crash only means delivered reports are sent again (readProgress).
    const text = JSON.stringify({ lastDeliveredId: Math.max(...throughIds) });
    const record = Buffer.from(text.padEnd(progressRecordBytes - 1) + '\n');
    this.progressHandle ??= await open(path.join(this.folder, progressFileName), 'w');
    // Synchronous, as appendNow is (the reason is there): 64 bytes into the page cache.
    writeSync(this.progressHandle.fd, record, 0, record.length, 0);
    await this.deleteDeliveredSegments();
  }

  /** Waits for appends in progress and closes the open segment. */
  async close(): Promise<void> {
    await this.commits.settled();
    await this.progressWrites.settled();
    await this.current?.handle.close();
    this.current = undefined;
    await this.progressHandle?.close();
    this.progressHandle = undefined;
  }

  /** One group commit: the batch is written (and fsynced if it must be), then deliverable. */
  private async writeBatch(batch: readonly OutboxRecord[]): Promise<void> {
    try {
      const text = batch.map((record) => JSON.stringify(record) + '\n').join('');
      const { segment, handle } = await this.writableSegment(batch[0]!.id);
      appendNow(handle.fd, text);
      if (batch.some((record) => needsFsync(record.report))) await handle.datasync();
      segment.sizeBytes += Buffer.byteLength(text);
      segment.lastId = batch[batch.length - 1]!.id;
      this.undelivered.push(...batch);
    } finally {
      // Before the listeners run: a sender woken by them sees these finals as written.
      this.forgetFinalsBeingWritten(batch);
    }
    for (const listener of this.appendListeners) listener();
  }

  private forgetFinalsBeingWritten(batch: readonly OutboxRecord[]): void {
    for (const { report } of batch) {
      if (report.type !== 'finished') continue;
      const key = runKeyString(report.input);
      const writing = this.finalsBeingWritten.get(key);
      if (!writing || writing.count <= 1) this.finalsBeingWritten.delete(key);
      else writing.count -= 1;
    }
  }

  private async writableSegment(
    firstId: number,
  ): Promise<{ segment: Segment; handle: FileHandle }> {
    if (this.current && this.current.segment.sizeBytes < this.segmentRotationBytes) {
      return this.current;
    }
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

  /** Deletes delivered segments that are no longer written to (the open one stays). */
  private async deleteDeliveredSegments(): Promise<void> {
    for (const segment of [...this.segments]) {
      if (segment.lastId > this.lastDeliveredId || this.current?.segment === segment) continue;
      this.segments.splice(this.segments.indexOf(segment), 1);
      await rm(segment.file, { force: true });
    }
  }
}

/**
 * The id of the last delivered record, 0 when nothing is known. Progress is written in place
 * without an fsync, so a crash of the machine can leave it torn: that counts as nothing known,
 * and the records still on disk are sent again, which the server takes as harmless replays.
 */
async function readProgress(file: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  try {
    const progress = JSON.parse(text) as { lastDeliveredId?: unknown };
    return Number(progress.lastDeliveredId) || 0;
  } catch {
    return 0;
  }
}

/** Whether a report must be on disk before it is delivered (see Outbox). */
function needsFsync(report: Report): boolean {
  return report.type !== 'started' && report.type !== 'acknowledge';
}
