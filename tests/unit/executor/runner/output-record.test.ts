import { describe, expect, it } from 'vitest';
import { LogChunker } from '../../../../executor/runner/log-chunker.js';
import { OutputRecord } from '../../../../executor/runner/output-record.js';
import { lastUtf8Bytes, splitUtf8 } from '../../../../executor/runner/utf8.js';
import type { LogChunkInput } from '../../../../executor/generated/graphql.js';

describe('OutputRecord', () => {
  it('finds the expected text split over many pieces of one stream', () => {
    const record = new OutputRecord('needle');
    for (const piece of ['hay n', 'e', 'ed', 'le hay']) record.add('STDOUT', piece);
    expect(record.containsExpectedOutput).toBe(true);
  });

  it('does not join pieces of different streams into a match', () => {
    const record = new OutputRecord('needle');
    record.add('STDOUT', 'nee');
    record.add('STDERR', 'dle');
    expect(record.containsExpectedOutput).toBe(false);
  });

  it('keeps the start and the end of long output within the byte limit', () => {
    const record = new OutputRecord(null);
    record.add('STDOUT', 'é'.repeat(40_000));
    record.add('STDOUT', 'z'.repeat(10));
    expect(Buffer.byteLength(record.end())).toBeLessThanOrEqual(65_536);
    expect(record.end().endsWith('z'.repeat(10))).toBe(true);
    expect(record.start(11)).toBe('ééééé');
  });
});

describe('UTF-8 cutting', () => {
  it('never splits a character', () => {
    const text = 'a€b€c€';
    const pieces = splitUtf8(text, 4);
    expect(pieces.join('')).toBe(text);
    for (const piece of pieces) expect(Buffer.byteLength(piece)).toBeLessThanOrEqual(4);
    expect(lastUtf8Bytes(text, 4)).toBe('c€');
  });
});

describe('LogChunker', () => {
  it('does not split a multi-byte character that arrives in two reads', () => {
    const chunks: LogChunkInput[] = [];
    const chunker = new LogChunker({ onChunk: (chunk) => chunks.push(chunk), flushBytes: 1 });
    const euro = Buffer.from('€');
    chunker.write('STDOUT', euro.subarray(0, 1));
    chunker.write('STDOUT', euro.subarray(1));
    chunker.end();
    expect(chunks.map((chunk) => chunk.content)).toEqual(['€']);
  });

  it('replaces NUL, which the server cannot store', () => {
    const chunks: LogChunkInput[] = [];
    const chunker = new LogChunker({ onChunk: (chunk) => chunks.push(chunk) });
    chunker.write('STDERR', Buffer.from('a\u0000b'));
    chunker.end();
    expect(chunks).toMatchObject([{ seq: 0, stream: 'STDERR', content: 'a\uFFFDb' }]);
  });
});
