import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type FormattedExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { TokenSigner } from '../auth/executor-token.js';
import {
  ExecutorAssignmentsDocument,
  type ExecutorAssignmentsSubscription,
} from '../generated/graphql.js';
import type { Logger } from '../logger.js';
import { backoffDelayMs, type BackoffOptions } from '../shared/backoff.js';
import { Wakeup } from '../shared/wakeup.js';
import type { ExecutorMessage } from '../work/executor-message.js';
import { failureKindOfCode, GraphqlRequestError, printOnce } from './graphql-http-client.js';

/** Close code with which the server refuses an executor's token (graphql-ws Forbidden). */
export const refusedCloseCode = 4403;
/** This many refusals in a row mean the key is not (or no longer) accepted: give up. */
export const refusalsBeforeGivingUp = 3;
/**
 * The longest wait between two connection attempts. Shorter than the general backoff: while the
 * subscription is down the executor gets no work, although the server may count it online.
 */
export const maxReconnectDelayMs = 5_000;
/**
 * A WebSocket that has not opened by then is given up: where a cut network drops packets rather
 * than refusing them, a connection attempt would otherwise hang for the system's TCP timeout
 * (minutes on Linux).
 */
const openingTimeoutMs = 10_000;
/** retryNow() gives up an attempt still opening after this long: it began before the restore. */
const staleOpeningMs = 1_000;
/** A request over the socket without an answer by then fails (retryable). */
const socketRequestTimeoutMs = 15_000;

/** The wait before the next connection attempt after `consecutiveFailures` failed ones. */
export function reconnectDelayMs(consecutiveFailures: number, backoff?: BackoffOptions): number {
  return backoffDelayMs(consecutiveFailures, { maxMs: maxReconnectDelayMs, ...backoff });
}

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
  /** Between connection attempts; the default is capped at `maxReconnectDelayMs`. */
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
 * refusals stop it for good. Whoever learns that the server is reachable again (a heartbeat got
 * through) calls retryNow() to cut the backoff short.
 */
export class AssignmentSubscription {
  private client: Client | undefined;
  private unsubscribe: (() => void) | undefined;
  private consecutiveRefusals = 0;
  /** Subscriptions that failed in a row (each followed by a new client). */
  private consecutiveFailures = 0;
  /** Connection attempts of the current client that failed in a row. */
  private reconnectWaits = 0;
  /** Ends the wait between two connection attempts early. */
  private readonly retrySignal = new Wakeup();
  private restartTimer: NodeJS.Timeout | undefined;
  /** The last WebSocket created, and when: retryNow() gives it up if it is stuck opening. */
  private opening: { socket: WebSocket; since: number } | undefined;
  private isConnected = false;
  private isStopped = true;
  /** Requests over the socket awaiting their answer: failed at once when the socket closes. */
  private readonly pendingRequests = new Set<(error: GraphqlRequestError) => void>();

  constructor(private readonly options: AssignmentSubscriptionOptions) {}

  start(): void {
    if (!this.isStopped) return;
    this.isStopped = false;
    this.retrySignal.clear();
    this.subscribe();
  }

  /**
   * The server is reachable again: if the subscription is down, try to connect now rather than
   * at the end of the backoff, which starts over. Harmless while connected.
   */
  retryNow(): void {
    if (this.isStopped || this.isConnected) return;
    this.reconnectWaits = 0;
    this.consecutiveFailures = 0;
    if (this.restartTimer !== undefined) {
      clearTimeout(this.restartTimer);
      this.restartTimer = undefined;
      this.options.logger.info('the server is reachable again; subscribing now');
      this.subscribe();
      return;
    }
    this.options.logger.info('the server is reachable again; reconnecting now');
    const { opening } = this;
    if (
      opening?.socket.readyState === WebSocket.CONNECTING &&
      Date.now() - opening.since >= staleOpeningMs
    ) {
      // Its close makes graphql-ws retry, and the wake below skips that wait.
      opening.socket.terminate();
    }
    // Ends the wait in progress, or else the next one (an attempt is under way).
    this.retrySignal.wake();
  }

  /**
   * Sends an operation over the live socket, already authenticated: no token to sign, no HTTP
   * request, and the server checks no signature. Undefined when the socket is not connected
   * (the caller uses HTTP instead). Failures come out as GraphqlRequestError, as over HTTP.
   */
  request<Result, Variables extends Record<string, unknown>>(
    document: TypedDocumentNode<Result, Variables>,
    variables: Variables,
  ): Promise<Result> | undefined {
    const { client } = this;
    if (!client || !this.isConnected) return undefined;
    return new Promise<Result>((resolve, reject) => {
      let result: FormattedExecutionResult<Record<string, unknown>, unknown> | undefined;
      const settle = (error: GraphqlRequestError | undefined): void => {
        clearTimeout(timer);
        this.pendingRequests.delete(fail);
        if (error) {
          cancel();
          reject(error);
        } else resolve(result!.data as Result);
      };
      const fail = (error: GraphqlRequestError): void => settle(error);
      const timer = setTimeout(
        () =>
          fail(
            new GraphqlRequestError('no answer over the WebSocket in time', 'retryable', 'NETWORK'),
          ),
        socketRequestTimeoutMs,
      );
      this.pendingRequests.add(fail);
      const cancel = client.subscribe(
        { query: printOnce(document), variables },
        {
          next: (value) => {
            result = value;
          },
          error: (error) => fail(requestErrorOf(error)),
          complete: () => {
            const firstError = result?.errors?.[0];
            if (firstError) return fail(requestErrorOf([firstError]));
            if (result?.data === undefined || result.data === null) {
              return fail(
                new GraphqlRequestError('the server answered without data', 'retryable', 'NETWORK'),
              );
            }
            settle(undefined);
          },
        },
      );
    });
  }

  /** Ends the subscription and closes the socket; no reconnect follows. */
  async stop(): Promise<void> {
    this.isStopped = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    // A wait in progress ends; graphql-ws then sees no subscription left and stops retrying.
    this.retrySignal.wake();
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
    const noteOpening = (socket: WebSocket): void => {
      this.opening = { socket, since: Date.now() };
    };
    // graphql-ws constructs sockets as `new impl(url, protocol)`: a subclass adds the opening
    // timeout and lets retryNow() see the attempt in progress.
    class TrackedWebSocket extends WebSocket {
      constructor(address: string | URL, protocols?: string | string[]) {
        super(address, protocols, { handshakeTimeout: openingTimeoutMs });
        noteOpening(this);
      }
    }
    this.reconnectWaits = 0;
    const client = createClient({
      url: this.options.url,
      webSocketImpl: TrackedWebSocket,
      lazy: true,
      retryAttempts: Infinity,
      connectionAckWaitTimeout: 15_000,
      keepAlive: keepAliveMs,
      connectionParams: async () => ({
        authorization: `Bearer ${await this.options.signToken()}`,
      }),
      // Our own count rather than graphql-ws's `retries`, so that retryNow() can start it over.
      retryWait: async () => {
        this.reconnectWaits += 1;
        const delayMs = reconnectDelayMs(this.reconnectWaits, this.options.backoff);
        logger.debug('waiting to reconnect', { retryInMs: delayMs });
        await this.retrySignal.wait(delayMs);
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
          this.isConnected = true;
          this.consecutiveRefusals = 0;
          this.consecutiveFailures = 0;
          this.reconnectWaits = 0;
          this.retrySignal.clear(); // A retryNow() during the successful attempt is done.
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
        closed: () => {
          clearTimeout(pongTimer);
          if (this.client === client) this.isConnected = false;
          // Their answers are lost with the socket: the caller retries (reports are idempotent).
          for (const fail of [...this.pendingRequests]) {
            fail(new GraphqlRequestError('the WebSocket closed', 'retryable', 'NETWORK'));
          }
        },
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
    this.isConnected = false;
    if (this.consecutiveRefusals >= refusalsBeforeGivingUp) {
      this.isStopped = true;
      this.options.onRefused();
      return;
    }
    this.consecutiveFailures += 1;
    const delayMs = reconnectDelayMs(this.consecutiveFailures, this.options.backoff);
    this.options.logger.warn('the subscription failed; starting over', {
      reason: describe(error),
      retryInMs: delayMs,
    });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.subscribe();
    }, delayMs);
  }
}

/**
 * What graphql-ws hands a sink's `error`: GraphQL errors (the operation was refused, with their
 * codes) or a socket failure (retryable).
 */
function requestErrorOf(error: unknown): GraphqlRequestError {
  if (Array.isArray(error) && error.length > 0) {
    const first = error[0] as { message?: unknown; extensions?: { code?: unknown } };
    const code = typeof first.extensions?.code === 'string' ? first.extensions.code : undefined;
    return new GraphqlRequestError(
      typeof first.message === 'string' ? first.message : 'GraphQL error',
      code ? failureKindOfCode(code) : 'retryable',
      code ?? 'GRAPHQL_ERROR',
    );
  }
  return new GraphqlRequestError(
    `the WebSocket failed: ${describe(error)}`,
    'retryable',
    'NETWORK',
  );
}
