import { writeSync } from 'node:fs';

/**
 * Writes all of `text` at the end of the file open (for appending) as `fd`, synchronously.
 *
 * The outbox and the run journal append a few hundred bytes per report: into the page cache
 * that takes microseconds, while each trip through libuv's thread pool (`fs/promises`) cost
 * ~45 µs of CPU on the bench machine, several times per run. Their fsyncs, which wait for the
 * disk, stay asynchronous (`datasync`: for an append, fdatasync flushes the file's new length
 * with the data, and skips only timestamps).
 */
export function appendNow(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  let written = 0;
  // A regular file takes a whole write unless something fails (which throws): the loop only
  // guards against a short write.
  while (written < bytes.length) {
    written += writeSync(fd, bytes, written, bytes.length - written);
  }
}
