import { describe, expect, it } from 'vitest';
import {
  batchInput,
  maxChunksPerEntry,
  maxRecordsPerCall,
  nextBatch,
} from '../../../../executor/outbox/report-delivery.js';
import type { OutboxRecord, Report } from '../../../../executor/outbox/report.js';

const at = '2030-01-01T00:00:00.000Z';

function chunkReport(instanceId: string, seq: number, content = 'x'): Report {
  return {
    type: 'logChunk',
    run: { instanceId, attempt: 1 },
    chunk: { seq, stream: 'STDOUT', content, emittedAt: at },
  };
}

function records(reports: Report[]): OutboxRecord[] {
  return reports.map((report, index) => ({ id: index + 1, report }));
}

describe('nextBatch', () => {
  it('takes the oldest records of any kind, up to the limit', () => {
    const all = records([
      { type: 'acknowledge', run: { instanceId: '1', attempt: 1 } },
      { type: 'started', input: { instanceId: '1', attempt: 1, startedAt: at } },
      chunkReport('1', 0),
      {
        type: 'finished',
        input: { instanceId: '1', attempt: 1, status: 'FINISHED', finishedAt: at },
      },
    ]);
    expect(nextBatch(all).map((record) => record.id)).toEqual([1, 2, 3, 4]);
    expect(nextBatch(all, 3).map((record) => record.id)).toEqual([1, 2, 3]);
    const many = records(Array.from({ length: 1500 }, (_, seq) => chunkReport('1', seq)));
    expect(nextBatch(many)).toHaveLength(maxRecordsPerCall);
  });

  it('puts about 512 KiB in one call, and always the first record', () => {
    const big = records(
      Array.from({ length: 20 }, (_, seq) => chunkReport('1', seq, 'y'.repeat(60_000))),
    );
    expect(nextBatch(big)).toHaveLength(8);
    const huge = records([chunkReport('1', 0, 'z'.repeat(700_000)), chunkReport('1', 1)]);
    expect(nextBatch(huge)).toHaveLength(1);
  });
});

describe('batchInput', () => {
  it('sorts reports by kind, keeping their order, and joins consecutive chunks of a run', () => {
    const input = batchInput(
      records([
        { type: 'acknowledge', run: { instanceId: '1', attempt: 1 } },
        { type: 'acknowledge', run: { instanceId: '2', attempt: 1 } },
        { type: 'started', input: { instanceId: '1', attempt: 1, startedAt: at } },
        chunkReport('1', 0),
        chunkReport('1', 1),
        chunkReport('2', 0),
        chunkReport('1', 2),
        {
          type: 'finished',
          input: { instanceId: '1', attempt: 1, status: 'FINISHED', finishedAt: at },
        },
      ]),
    );
    expect(input.acknowledged).toEqual([
      { instanceId: '1', attempt: 1 },
      { instanceId: '2', attempt: 1 },
    ]);
    expect(input.started).toEqual([{ instanceId: '1', attempt: 1, startedAt: at }]);
    expect(input.logs.map((entry) => [entry.instanceId, entry.chunks.map((c) => c.seq)])).toEqual([
      ['1', [0, 1]],
      ['2', [0]],
      ['1', [2]],
    ]);
    expect(input.finished).toHaveLength(1);
  });

  it('splits a long run of chunks into entries of at most 500', () => {
    const input = batchInput(
      records(Array.from({ length: 1200 }, (_, seq) => chunkReport('1', seq))),
    );
    expect(input.logs.map((entry) => entry.chunks.length)).toEqual([maxChunksPerEntry, 500, 200]);
  });
});
