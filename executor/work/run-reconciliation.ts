import { ReconcileExecutorRunsDocument } from '../generated/graphql.js';
import type { Logger } from '../logger.js';
import type { RunKey } from '../outbox/report.js';
import { backoffDelayMs } from '../shared/backoff.js';
import { Wakeup } from '../shared/wakeup.js';
import { GraphqlRequestError, type GraphqlHttpClient } from '../transport/graphql-http-client.js';

/** Retries while the server is unreachable wait at most this long (no work comes meanwhile). */
const maxRetryDelayMs = 5_000;

export interface RunReconciliationOptions {
  client: GraphqlHttpClient;
  /** Every run this process has a record of: accepted and not ended, or with a final undelivered. */
  knownRuns: () => RunKey[];
  logger: Logger;
}

/**
 * Tells the server, once per process and before the subscription starts, which runs this
 * executor has a record of; the server ends the acknowledged or running ones it does not list.
 * That is what lets the run journal skip an fsync per run: after a machine crash took a run's
 * entry, the run is ended here (ABNORMAL_ENDING, its outcome unknown), as recovery from the
 * journal ends the runs it finds.
 */
export class RunReconciliation {
  private readonly wakeup = new Wakeup();
  private isStopping = false;

  constructor(private readonly options: RunReconciliationOptions) {}

  /** Set by stop(): a run() still under way ends, and its caller must not go on to subscribe. */
  get isStopped(): boolean {
    return this.isStopping;
  }

  /**
   * Resolves once the server has answered, or refused the list for good (too long, say: lost
   * runs then stay as they are), or stop() was called. Retries with backoff while the server is
   * unreachable.
   */
  async run(): Promise<void> {
    const { client, logger } = this.options;
    for (let failures = 0; !this.isStopping;) {
      try {
        const { reconcileExecutorRuns } = await client.request(ReconcileExecutorRunsDocument, {
          input: {
            knownRuns: this.options
              .knownRuns()
              .map(({ instanceId, attempt }) => ({ instanceId, attempt })),
          },
        });
        const ended = reconcileExecutorRuns.endedInstanceIds;
        if (ended.length > 0) {
          logger.warn('the server ended runs this executor has no record of (lost in a crash)', {
            instanceIds: ended,
          });
        }
        return;
      } catch (error) {
        if (error instanceof GraphqlRequestError && error.kind === 'rejected') {
          logger.error('the server refused the list of known runs', {
            code: error.code,
            reason: error.message,
          });
          return;
        }
        failures += 1;
        const retryInMs = backoffDelayMs(failures, { maxMs: maxRetryDelayMs });
        const log = failures === 1 ? logger.warn : logger.debug;
        log('cannot reconcile runs with the server; will retry', {
          reason: error instanceof Error ? error.message : String(error),
          retryInMs,
        });
        await this.wakeup.wait(retryInMs);
      }
    }
  }

  /** The server is reachable again: retry now rather than at the end of the backoff. */
  retryNow(): void {
    this.wakeup.wake();
  }

  stop(): void {
    this.isStopping = true;
    this.wakeup.wake();
  }
}
