import { appendFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Outbox } from '../../../../executor/outbox/outbox.js';
import type { Report } from '../../../../executor/outbox/report.js';

const run = { instanceId: '42', attempt: 1 };

function chunk(seq: number): Report {
  return {
    type: 'logChunk',
    run,
    chunk: {
      seq,
      stream: 'STDOUT',
      content: `line ${seq}\n`,
      emittedAt: '2030-01-01T00:00:00.000Z',
    },
  };
}

describe('Outbox', () => {
  let folder: string;
  beforeEach(() => {
    folder = mkdtempSync(path.join(tmpdir(), 'outbox-'));
  });
  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  it('keeps reports in append order, with growing ids', async () => {
    const outbox = await Outbox.open(folder);
    const appended = await Promise.all([0, 1, 2, 3].map((seq) => outbox.append(chunk(seq))));
    expect(appended.map((record) => record.id)).toEqual([1, 2, 3, 4]);
    expect(outbox.peek(10).map((record) => record.report)).toEqual([0, 1, 2, 3].map(chunk));
    expect(outbox.peek(2).map((record) => record.id)).toEqual([1, 2]);
    await outbox.close();
  });

  it('survives a restart: a new instance on the same folder has what was not delivered', async () => {
    const first = await Outbox.open(folder);
    for (const seq of [0, 1, 2, 3]) await first.append(chunk(seq));
    await first.markDelivered(2);
    // No close(): a crash. Appends were fsynced when they resolved.

    const second = await Outbox.open(folder);
    expect(second.peek(10).map((record) => record.id)).toEqual([3, 4]);
    const next = await second.append(chunk(4));
    expect(next.id).toBe(5);
    await second.close();

    const third = await Outbox.open(folder);
    expect(third.peek(10).map((record) => record.report)).toEqual([2, 3, 4].map(chunk));
    await third.close();
    await first.close(); // Only now: the crash was simulated by never closing it before.
  });

  it('keeps one segment, written in place, until it is full; deletes full delivered ones', async () => {
    // Records here are ~150 bytes: a segment is full after two of them.
    const outbox = await Outbox.open(folder, { segmentRotationBytes: 200 });
    const segments = (): string[] =>
      readdirSync(folder).filter((name) => name.startsWith('segment-'));
    await outbox.append(chunk(0));
    await outbox.markDelivered(1);
    // Delivered but still the segment being written: no file is created or deleted per report.
    expect(segments()).toHaveLength(1);
    for (const seq of [1, 2, 3]) await outbox.append(chunk(seq));
    expect(segments()).toHaveLength(2);
    await outbox.markDelivered(3);
    // The full segment (records 1 and 2) is delivered: deleted. The open one holds 3 and 4.
    expect(segments()).toHaveLength(1);
    expect(outbox.size).toBe(1);
    await outbox.close();

    const reopened = await Outbox.open(folder, { segmentRotationBytes: 200 });
    expect(reopened.peek(10).map((record) => record.id)).toEqual([4]);
    expect((await reopened.append(chunk(4))).id).toBe(5);
    await reopened.markDelivered(5);
    await reopened.close();
    // Reopened with everything delivered: nothing left to keep.
    const emptied = await Outbox.open(folder);
    expect(segments()).toEqual([]);
    expect(emptied.size).toBe(0);
    expect((await emptied.append(chunk(5))).id).toBe(6);
    await emptied.close();
  });

  it('takes torn progress as nothing delivered: the records kept are sent again', async () => {
    const outbox = await Outbox.open(folder);
    for (const seq of [0, 1]) await outbox.append(chunk(seq));
    await outbox.markDelivered(1);
    await outbox.close();
    writeFileSync(path.join(folder, 'delivered.json'), '{"lastDeliv');

    const reopened = await Outbox.open(folder);
    expect(reopened.peek(10).map((record) => record.id)).toEqual([1, 2]);
    await reopened.close();
  });

  it('skips a line torn by a crash in the middle of a write', async () => {
    const outbox = await Outbox.open(folder);
    await outbox.append(chunk(0));
    await outbox.close();
    const [segment] = readdirSync(folder).filter((name) => name.startsWith('segment-'));
    appendFileSync(path.join(folder, segment!), '{"id":2,"report":{"type":"logCh');

    const reopened = await Outbox.open(folder);
    expect(reopened.peek(10).map((record) => record.report)).toEqual([chunk(0)]);
    await reopened.close();
  });

  it('tells listeners when reports become deliverable', async () => {
    const outbox = await Outbox.open(folder);
    let notifications = 0;
    const remove = outbox.onAppended(() => (notifications += 1));
    await outbox.append(chunk(0));
    expect(notifications).toBe(1);
    remove();
    await outbox.append(chunk(1));
    expect(notifications).toBe(1);
    await outbox.close();
  });
});
