import { StringDecoder } from 'node:string_decoder';
import type { LogChunkInput, LogStream } from '../generated/graphql.js';
import { splitUtf8 } from './utf8.js';

/** The server's limit on one chunk's content (schema: at most 64 KiB, UTF-8). */
export const maxChunkContentBytes = 64 * 1024;

export interface LogChunkerOptions {
  /** Receives chunks in order, with `seq` from 0. */
  onChunk: (chunk: LogChunkInput) => void;
  /** Output is never held longer than this. Default 100 ms. */
  flushIntervalMs?: number;
  /** Output is sent as soon as this much is buffered. Default 16 KiB. */
  flushBytes?: number;
}

/**
 * Turns a run's raw output into log chunks as it comes: buffered at most `flushIntervalMs` or
 * `flushBytes`, one stream per chunk (a change of stream flushes, so interleaving is kept), cut on
 * character boundaries so that a multi-byte character is never split between chunks.
 */
export class LogChunker {
  private readonly decoders: Record<LogStream, StringDecoder> = {
    STDOUT: new StringDecoder('utf8'),
    STDERR: new StringDecoder('utf8'),
  };
  private pending: { stream: LogStream; text: string; bytes: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private nextSeq = 0;
  private readonly flushIntervalMs: number;
  private readonly flushBytes: number;

  constructor(private readonly options: LogChunkerOptions) {
    this.flushIntervalMs = options.flushIntervalMs ?? 100;
    this.flushBytes = options.flushBytes ?? 16 * 1024;
  }

  write(stream: LogStream, data: Buffer): void {
    this.add(stream, this.decoders[stream].write(data));
  }

  /** Flushes everything, including a character left incomplete at the end of a stream. */
  end(): void {
    for (const stream of ['STDOUT', 'STDERR'] as const)
      this.add(stream, this.decoders[stream].end());
    this.flush();
  }

  private add(stream: LogStream, text: string): void {
    if (!text) return;
    if (this.pending && this.pending.stream !== stream) this.flush();
    this.pending ??= { stream, text: '', bytes: 0 };
    this.pending.text += text;
    this.pending.bytes += Buffer.byteLength(text);
    if (this.pending.bytes >= this.flushBytes) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.flushIntervalMs);
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const pending = this.pending;
    this.pending = undefined;
    if (!pending) return;
    // PostgreSQL text cannot hold NUL; a chunk containing one could never be stored.
    const content = pending.text.replaceAll('\u0000', '\uFFFD');
    const emittedAt = new Date().toISOString();
    for (const piece of splitUtf8(content, maxChunkContentBytes)) {
      this.options.onChunk({
        seq: this.nextSeq++,
        stream: pending.stream,
        content: piece,
        emittedAt,
      });
    }
  }
}
