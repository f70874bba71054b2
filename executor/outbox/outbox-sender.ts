import { setImmediate as setImmediatePromise } from 'node:timers/promises';
import type { Logger } from '../logger.js';
import { backoffDelayMs, type BackoffOptions } from '../shared/backoff.js';
import { Wakeup } from '../shared/wakeup.js';
import { GraphqlRequestError } from '../transport/graphql-http-client.js';
import type { Outbox } from './outbox.js';
import { maxRecordsPerCall, nextBatch, type RefusedDelivery } from './report-delivery.js';
import { runKeyOf, type OutboxRecord } from './report.js';

export interface OutboxSenderOptions {
  outbox: Outbox;
  /**
   * Sends one batch and resolves with the reports the server refused for good; throws
   * GraphqlRequestError when the call as a whole fails (anything else is taken as retryable).
   */
  deliver: (batch: readonly OutboxRecord[]) => Promise<readonly RefusedDelivery[]>;
  logger: Logger;
  backoff?: BackoffOptions;
  /**
   * How long a call that would carry only `started` and `acknowledge` reports waits for more
   * (default 10 ms): the end of a short run then goes in the same call, one server statement
   * and commit instead of two. Those reports are durable in the run journal meanwhile.
   */
  startLingerMs?: number;
  /**
   * How long a call may wait at most for the final reports, still being written, of runs whose
   * `started` it carries (default 100 ms): the server then records both in one row update, and
   * a call with starts and finishes of different runs takes a transaction of two statements
   * where one statement commits by itself.
   */
  finalWaitMs?: number;
}

/** Whether a call would say no more than that runs were accepted or have started. */
function isStartsOnly(batch: readonly OutboxRecord[]): boolean {
  return batch.every(({ report }) => report.type === 'started' || report.type === 'acknowledge');
}

/**
 * Delivers the outbox strictly in order, one call at a time, each call carrying everything
 * that accumulated meanwhile (up to a limit): reports refused for good (CONFLICT, ...) are
 * dropped and logged; a failed call is retried with backoff while new reports accumulate
 * behind it; a call refused as a whole is split until the report at fault is alone, and dropped.
 */
export class OutboxSender {
  private readonly wakeup = new Wakeup();
  private readonly idleListeners = new Set<() => void>();
  private loop: Promise<void> | undefined;
  private isStopping = false;
  private consecutiveFailures = 0;
  /** Set by nudge(): ends the current backoff early (appends alone do not). */
  private isRetryRequested = false;
  private removeAppendListener: (() => void) | undefined;
  /** Records per call; halved while the server refuses whole calls, to isolate the culprit. */
  private batchLimit = maxRecordsPerCall;
  /** The last progress write started (each covers all before it); never rejects. */
  private progressWrite: Promise<void> = Promise.resolve();

  constructor(private readonly options: OutboxSenderOptions) {}

  start(): void {
    if (this.loop) return;
    this.isStopping = false;
    this.removeAppendListener = this.options.outbox.onAppended(() => this.wakeup.wake());
    this.loop = this.run();
  }

  /** Retries now instead of waiting out the backoff (e.g. the server is reachable again). */
  nudge(): void {
    this.consecutiveFailures = 0;
    this.isRetryRequested = true;
    this.wakeup.wake();
  }

  /**
   * Resolves true once everything appended so far is delivered (or dropped), false if that takes
   * longer than `timeoutMs`.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.options.outbox.size === 0) return true;
    this.nudge();
    return new Promise<boolean>((resolve) => {
      const done = (isDrained: boolean): void => {
        clearTimeout(timer);
        this.idleListeners.delete(onIdle);
        resolve(isDrained);
      };
      const onIdle = (): void => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.idleListeners.add(onIdle);
    });
  }

  /**
   * Stops after the call in flight, if any, and the progress write it started; undelivered
   * records stay on disk.
   */
  async stop(): Promise<void> {
    this.isStopping = true;
    this.removeAppendListener?.();
    this.wakeup.wake();
    await this.loop;
    await this.progressWrite;
    this.loop = undefined;
  }

  private async run(): Promise<void> {
    const { outbox, logger } = this.options;
    while (!this.isStopping) {
      // What woke this loop (an append) also resumes the runs that appended: one turn lets
      // them append what follows (a short run's end) before the call is cut.
      await setImmediatePromise();
      if (this.isStopping) break;
      let batch = nextBatch(outbox.peek(this.batchLimit), this.batchLimit);
      if (batch.length === 0) {
        for (const listener of [...this.idleListeners]) listener();
        await this.wakeup.wait(60_000);
        continue;
      }
      if (this.consecutiveFailures === 0) {
        batch = await this.lingerForMore(batch);
        if (this.isStopping) break;
      }
      const lastId = batch[batch.length - 1]!.id;
      try {
        const refused = await this.options.deliver(batch);
        for (const report of refused) {
          logger.warn('the server refused a report for good; dropping it', { ...report });
        }
        this.consecutiveFailures = 0;
        this.batchLimit = maxRecordsPerCall;
        // Not awaited: the next call need not wait for the progress file (outbox.ts).
        this.markDelivered(lastId);
      } catch (error) {
        if (error instanceof GraphqlRequestError && error.kind === 'rejected') {
          this.consecutiveFailures = 0;
          if (batch.length > 1) {
            this.batchLimit = Math.ceil(batch.length / 2);
            continue;
          }
          logger.warn('the server refused a report for good; dropping it', {
            report: batch[0]!.report.type,
            code: error.code,
            reason: error.message,
          });
          this.markDelivered(lastId);
          continue;
        }
        this.consecutiveFailures += 1;
        const delayMs = backoffDelayMs(this.consecutiveFailures, this.options.backoff);
        logger.warn('cannot deliver a report; will retry', {
          report: batch[0]!.report.type,
          code: error instanceof GraphqlRequestError ? error.code : undefined,
          reason: error instanceof Error ? error.message : String(error),
          retryInMs: delayMs,
        });
        await this.backOff(delayMs);
      }
    }
  }

  /**
   * How long after its first look a call should have waited at most before it goes (ms; 0: go
   * now): startLingerMs when it says only that runs started (their ends may follow), finalWaitMs
   * when it carries the start of a run whose end is being written.
   */
  private waitFor(batch: readonly OutboxRecord[]): number {
    if (batch.length >= this.batchLimit) return 0;
    const { outbox, startLingerMs = 10, finalWaitMs = 100 } = this.options;
    const isEndBeingWritten = batch.some(
      ({ report }) =>
        (report.type === 'started' || report.type === 'acknowledge') &&
        outbox.isFinalBeingWritten(runKeyOf(report)),
    );
    const lingerMs = isStartsOnly(batch) ? startLingerMs : 0;
    return isEndBeingWritten ? Math.max(finalWaitMs, lingerMs) : lingerMs;
  }

  /**
   * Waits as long as waitFor says (not at all for most calls), or until a nudge; returns the
   * call as it then is.
   */
  private async lingerForMore(batch: OutboxRecord[]): Promise<OutboxRecord[]> {
    const { outbox } = this.options;
    const since = performance.now();
    let waitMs = this.waitFor(batch);
    if (waitMs === 0) return batch;
    // A nudge (drain, reconnect) since the last linger ends this one: it asks for delivery now.
    while (!this.isStopping && !this.isRetryRequested) {
      const remainingMs = since + waitMs - performance.now();
      if (remainingMs <= 0) break;
      // Every append wakes it: the call is looked at again with what was added.
      await this.wakeup.wait(remainingMs);
      await setImmediatePromise();
      batch = nextBatch(outbox.peek(this.batchLimit), this.batchLimit);
      waitMs = this.waitFor(batch);
    }
    this.isRetryRequested = false;
    return batch;
  }

  private markDelivered(throughId: number): void {
    this.progressWrite = this.options.outbox.markDelivered(throughId).catch((error: unknown) => {
      this.options.logger.error('cannot record outbox progress', { error });
    });
  }

  private async backOff(delayMs: number): Promise<void> {
    this.isRetryRequested = false;
    const until = Date.now() + delayMs;
    while (!this.isStopping && !this.isRetryRequested && Date.now() < until) {
      await this.wakeup.wait(until - Date.now());
    }
  }
}
