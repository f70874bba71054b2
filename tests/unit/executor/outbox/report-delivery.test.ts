import { describe, expect, it } from 'vitest';
import { maxChunksPerCall, nextBatch } from '../../../../executor/outbox/report-delivery.js';
import type { OutboxRecord, Report } from '../../../../executor/outbox/report.js';

function chunkReport(instanceId: string, seq: number, content = 'x'): Report {
  return {
    type: 'logChunk',
    run: { instanceId, attempt: 1 },
    chunk: { seq, stream: 'STDOUT', content, emittedAt: '2030-01-01T00:00:00.000Z' },
  };
}

function records(reports: Report[]): OutboxRecord[] {
  return reports.map((report, index) => ({ id: index + 1, report }));
}

describe('nextBatch', () => {
  it('sends a non-log report alone', () => {
    const batch = nextBatch(
      records([{ type: 'acknowledge', run: { instanceId: '1', attempt: 1 } }, chunkReport('1', 0)]),
    );
    expect(batch.map((record) => record.id)).toEqual([1]);
  });

  it('batches consecutive chunks of one attempt, and stops at another attempt', () => {
    const batch = nextBatch(
      records([chunkReport('1', 0), chunkReport('1', 1), chunkReport('2', 0), chunkReport('1', 2)]),
    );
    expect(batch.map((record) => record.id)).toEqual([1, 2]);
  });

  it('puts at most 500 chunks and about 512 KiB in one call', () => {
    const many = records(Array.from({ length: 600 }, (_, seq) => chunkReport('1', seq)));
    expect(nextBatch(many)).toHaveLength(maxChunksPerCall);

    const big = records(
      Array.from({ length: 20 }, (_, seq) => chunkReport('1', seq, 'y'.repeat(60_000))),
    );
    expect(nextBatch(big)).toHaveLength(8);
  });
});
