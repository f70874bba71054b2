import type { LogStream } from '../generated/graphql.js';
import { firstUtf8Bytes, lastUtf8Bytes } from './utf8.js';

/** The server's limit on `result` (schema: at most 64 KiB). */
export const maxResultBytes = 64 * 1024;

/**
 * What a run's outcome needs from its output, without keeping all of it: whether the expected
 * text appeared (per stream, across chunk boundaries), and its start and end for `result`.
 */
export class OutputRecord {
  private readonly carries: Record<LogStream, string> = { STDOUT: '', STDERR: '' };
  private hasFoundExpected: boolean;
  private head = '';
  private tail = '';

  constructor(private readonly expectedOutput: string | null) {
    this.hasFoundExpected = !expectedOutput;
  }

  add(stream: LogStream, text: string): void {
    if (this.head.length < maxResultBytes) this.head += text.slice(0, maxResultBytes);
    // Characters, not bytes: a cheap bound that keeps at least 64 KiB of UTF-8 (trimmed later).
    this.tail = (this.tail + text).slice(-maxResultBytes);
    // The cut may have left the second half of a surrogate pair at the start.
    if (/^[\uDC00-\uDFFF]/.test(this.tail)) this.tail = this.tail.slice(1);
    if (!this.hasFoundExpected && this.expectedOutput) {
      // Only the last (length - 1) characters can start a match that ends in later text.
      const window = this.carries[stream] + text;
      if (window.includes(this.expectedOutput)) this.hasFoundExpected = true;
      const carryLength = this.expectedOutput.length - 1;
      this.carries[stream] = carryLength > 0 ? window.slice(-carryLength) : '';
    }
  }

  get containsExpectedOutput(): boolean {
    return this.hasFoundExpected;
  }

  /** The start of the output, at most `maxBytes` of UTF-8. */
  start(maxBytes: number = maxResultBytes): string {
    return firstUtf8Bytes(this.head, maxBytes);
  }

  /** The end of the output, at most `maxBytes` of UTF-8. */
  end(maxBytes: number = maxResultBytes): string {
    return lastUtf8Bytes(this.tail, maxBytes);
  }
}
