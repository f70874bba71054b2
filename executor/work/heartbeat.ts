import { loadavg } from 'node:os';
import { ExecutorHeartbeatDocument } from '../generated/graphql.js';
import type { Logger } from '../logger.js';
import { Wakeup } from '../shared/wakeup.js';
import type { GraphqlHttpClient } from '../transport/graphql-http-client.js';

export interface HeartbeatOptions {
  client: GraphqlHttpClient;
  intervalMs: number;
  /** Instances queued or running here. */
  activeInstanceIds: () => string[];
  /** Called with the instances the server no longer wants this executor to run. */
  onAbandoned: (instanceIds: string[]) => void;
  /**
   * Called when a heartbeat is accepted after one or more failed: the server is reachable again,
   * and whatever waits out a backoff to reach it should stop waiting.
   */
  onReachable?: () => void;
  logger: Logger;
}

/**
 * Tells the server every `intervalMs` that this executor lives and what it runs. Live-only (never
 * queued in the outbox): a late heartbeat is worthless. A failure is logged once per outage.
 */
export class Heartbeat {
  private readonly wakeup = new Wakeup();
  private loop: Promise<void> | undefined;
  private isStopping = false;
  private isFailing = false;

  constructor(private readonly options: HeartbeatOptions) {}

  start(): void {
    if (this.loop) return;
    this.isStopping = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.isStopping = true;
    this.wakeup.wake();
    await this.loop;
    this.loop = undefined;
  }

  private async run(): Promise<void> {
    while (!this.isStopping) {
      await this.beat();
      await this.wakeup.wait(this.options.intervalMs);
    }
  }

  private async beat(): Promise<void> {
    const { logger } = this.options;
    try {
      const { executorHeartbeat } = await this.options.client.request(ExecutorHeartbeatDocument, {
        input: { runningInstanceIds: this.options.activeInstanceIds(), load: loadavg()[0] ?? null },
      });
      if (this.isFailing) {
        logger.info('heartbeats are accepted again');
        this.isFailing = false;
        this.options.onReachable?.();
      }
      if (executorHeartbeat.abandonedInstanceIds.length > 0) {
        this.options.onAbandoned(executorHeartbeat.abandonedInstanceIds);
      }
    } catch (error) {
      const log = this.isFailing ? logger.debug : logger.warn;
      log('heartbeat failed', { reason: error instanceof Error ? error.message : String(error) });
      this.isFailing = true;
    }
  }
}
