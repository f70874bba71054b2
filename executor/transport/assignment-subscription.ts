import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { TokenSigner } from '../auth/executor-token.js';
import {
  ExecutorAssignmentsDocument,
  type ExecutorAssignmentsSubscription,
} from '../generated/graphql.js';
import type { Logger } from '../logger.js';
import { backoffDelayMs, type BackoffOptions } from '../shared/backoff.js';
import type { ExecutorMessage } from '../work/executor-message.js';

/** Close code with which the server refuses an executor's token (graphql-ws Forbidden). */
export const refusedCloseCode = 4403;
/** This many refusals in a row mean the key is not (or no longer) accepted: give up. */
export const refusalsBeforeGivingUp = 3;

export interface AssignmentSubscriptionOptions {
  /** `ws(s)://host:port/graphql`. */
  url: string;
  /** Called for every connection attempt: tokens are single-use. */
  signToken: TokenSigner;
  onMessage: (message: ExecutorMessage) => void;
  /** The server accepted the connection (and so our token); the subscription is live. */
  onConnected: () => void;
  /** The server refused the key `refusalsBeforeGivingUp` times in a row; nothing is retried. */
  onRefused: () => void;
  logger: Logger;
  /** Ping interval; a missing pong within the same time closes the socket to reconnect. */
  keepAliveMs?: number;
  backoff?: BackoffOptions;
}

function closeCodeOf(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const { code } = error as { code: unknown };
    return typeof code === 'number' ? code : undefined;
  }
  return undefined;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (Array.isArray(error))
    return error.map((item: { message?: string }) => item.message).join('; ');
  if (typeof error === 'object' && error !== null && 'message' in error) {
    // ws reports socket failures as an ErrorEvent: not an Error, but with a message.
    return String((error as { message: unknown }).message);
  }
  const code = closeCodeOf(error);
  if (code !== undefined) {
    const reason = (error as { reason?: unknown }).reason;
    return `socket closed with ${code}${reason ? ` (${String(reason)})` : ''}`;
  }
  return String(error);
}

/**
 * The one `executorAssignments` subscription of this executor, kept alive: graphql-ws reconnects
 * after a lost socket (a fresh token each attempt), and anything it treats as fatal (a server
 * error close, the subscription ending) starts a new client after a backoff. Only repeated 4403
 * refusals stop it for good.
 */
export class AssignmentSubscription {
  private client: Client | undefined;
  private unsubscribe: (() => void) | undefined;
  private consecutiveRefusals = 0;
  private consecutiveFailures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private isStopped = true;

  constructor(private readonly options: AssignmentSubscriptionOptions) {}

  start(): void {
    if (!this.isStopped) return;
    this.isStopped = false;
    this.subscribe();
  }

  /** Ends the subscription and closes the socket; no reconnect follows. */
  async stop(): Promise<void> {
    this.isStopped = true;
    clearTimeout(this.restartTimer);
    const { client, unsubscribe } = this;
    this.client = undefined;
    this.unsubscribe = undefined;
    try {
      unsubscribe?.();
      await client?.dispose();
    } catch (error) {
      // A socket still connecting rejects with its close event; we are leaving anyway.
      this.options.logger.debug('closing the subscription', { reason: describe(error) });
    }
  }

  private subscribe(): void {
    const { logger } = this.options;
    const keepAliveMs = this.options.keepAliveMs ?? 10_000;
    let activeSocket: WebSocket | undefined;
    let pongTimer: NodeJS.Timeout | undefined;
    const client = createClient({
      url: this.options.url,
      webSocketImpl: WebSocket,
      lazy: true,
      retryAttempts: Infinity,
      connectionAckWaitTimeout: 15_000,
      keepAlive: keepAliveMs,
      connectionParams: async () => ({
        authorization: `Bearer ${await this.options.signToken()}`,
      }),
      retryWait: async (retries) => {
        await new Promise((resolve) =>
          setTimeout(resolve, backoffDelayMs(retries + 1, this.options.backoff)),
        );
      },
      shouldRetry: (error) => {
        if (closeCodeOf(error) === refusedCloseCode) {
          this.consecutiveRefusals += 1;
          logger.warn('the server refused this executor', { refusals: this.consecutiveRefusals });
          return this.consecutiveRefusals < refusalsBeforeGivingUp;
        }
        logger.warn('connection lost; reconnecting', { reason: describe(error) });
        return true;
      },
      on: {
        connected: (socket) => {
          activeSocket = socket as WebSocket;
          this.consecutiveRefusals = 0;
          this.consecutiveFailures = 0;
          this.options.onConnected();
        },
        ping: (received) => {
          if (received) return;
          // We sent a ping: without a pong in time the socket is dead, close it to reconnect.
          pongTimer = setTimeout(() => {
            if (activeSocket?.readyState === WebSocket.OPEN)
              activeSocket.close(4408, 'Pong timeout');
          }, keepAliveMs);
        },
        pong: (received) => {
          if (received) clearTimeout(pongTimer);
        },
        closed: () => clearTimeout(pongTimer),
      },
    });
    this.client = client;
    this.unsubscribe = client.subscribe<ExecutorAssignmentsSubscription>(
      { query: print(ExecutorAssignmentsDocument) },
      {
        next: (result) => {
          if (result.errors?.length) {
            logger.warn('the subscription sent errors', { reason: describe(result.errors) });
          }
          if (result.data) this.options.onMessage(result.data.executorAssignments);
        },
        error: (error) => this.restart(client, error),
        complete: () => this.restart(client, new Error('the server ended the subscription')),
      },
    );
  }

  private restart(client: Client, error: unknown): void {
    if (this.isStopped || this.client !== client) return;
    void client.dispose();
    this.client = undefined;
    this.unsubscribe = undefined;
    if (this.consecutiveRefusals >= refusalsBeforeGivingUp) {
      this.isStopped = true;
      this.options.onRefused();
      return;
    }
    this.consecutiveFailures += 1;
    const delayMs = backoffDelayMs(this.consecutiveFailures, this.options.backoff);
    this.options.logger.warn('the subscription failed; starting over', {
      reason: describe(error),
      retryInMs: delayMs,
    });
    this.restartTimer = setTimeout(() => this.subscribe(), delayMs);
  }
}
