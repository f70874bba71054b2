import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TokenSigner } from '../../../../executor/auth/executor-token.js';
import { createLogger } from '../../../../executor/logger.js';
import type { BackoffOptions } from '../../../../executor/shared/backoff.js';
import {
  AssignmentSubscription,
  maxReconnectDelayMs,
  reconnectDelayMs,
} from '../../../../executor/transport/assignment-subscription.js';
import { SubmitExecutorReportsDocument } from '../../../../executor/generated/graphql.js';
import { GraphqlRequestError } from '../../../../executor/transport/graphql-http-client.js';
import type { ExecutorMessage } from '../../../../executor/work/executor-message.js';
import { shellAssignment } from '../helpers/assignments.js';
import { startCuttableProxy, type CuttableProxy } from '../helpers/cuttable-proxy.js';
import { enrolledSigner } from '../helpers/executor-keys.js';
import { FakeProtocolServer, protocolError } from '../helpers/fake-protocol-server.js';

interface LogLine {
  readonly message: string;
  readonly retryInMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('AssignmentSubscription', () => {
  let server: FakeProtocolServer;
  let signToken: TokenSigner;
  const subscriptions: AssignmentSubscription[] = [];
  const proxies: CuttableProxy[] = [];

  beforeEach(async () => {
    server = await FakeProtocolServer.start();
    signToken = enrolledSigner(server, '9');
  });
  afterEach(async () => {
    await Promise.all(subscriptions.splice(0).map((subscription) => subscription.stop()));
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
    await server.stop();
  });

  /** A proxy between subscriptions and the server, and its WebSocket URL. */
  async function proxy(): Promise<{ proxy: CuttableProxy; url: string }> {
    const started = await startCuttableProxy(Number(new URL(server.url).port));
    proxies.push(started);
    return { proxy: started, url: started.urlFor(server.url).replace('http:', 'ws:') };
  }

  /** Starts a subscription whose events (and log lines) tests can await. */
  function subscribe(options: { url?: string; backoff?: BackoffOptions } = {}) {
    const messages: ExecutorMessage[] = [];
    const logs: LogLine[] = [];
    let connections = 0;
    const waiters = new Set<() => void>();
    const notify = (): void => waiters.forEach((waiter) => waiter());
    let onRefused: () => void = () => undefined;
    const refused = new Promise<void>((resolve) => (onRefused = resolve));
    const subscription = new AssignmentSubscription({
      url: options.url ?? server.url.replace('http:', 'ws:'),
      signToken,
      logger: createLogger('debug', (line) => {
        logs.push(JSON.parse(line) as LogLine);
        notify();
      }),
      backoff: options.backoff ?? { initialMs: 20, maxMs: 50 },
      onMessage: (message) => {
        messages.push(message);
        notify();
      },
      onConnected: () => {
        connections += 1;
        notify();
      },
      onRefused,
    });
    subscriptions.push(subscription);
    subscription.start();
    const until = (condition: () => boolean): Promise<void> =>
      new Promise((resolve) => {
        const check = (): void => {
          if (!condition()) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      });
    return { messages, logs, connections: () => connections, until, refused, subscription };
  }

  it('delivers assignments and cancellations as the server pushes them', async () => {
    const client = subscribe();
    await client.until(() => client.connections() === 1);
    await server.waitForSubscriber();
    const assignment = shellAssignment();
    server.push(assignment);
    server.push({ __typename: 'ExecutorCancellation', instanceId: '5', attempt: 2, reason: 'no' });
    await client.until(() => client.messages.length === 2);
    expect(client.messages).toEqual([
      assignment,
      { __typename: 'ExecutorCancellation', instanceId: '5', attempt: 2, reason: 'no' },
    ]);
  });

  const started = (instanceId: string) => ({
    input: {
      acknowledged: [],
      started: [{ instanceId, attempt: 1, startedAt: new Date().toISOString() }],
      logs: [],
      finished: [],
    },
  });

  it('sends operations over its socket while connected, with the errors classified', async () => {
    const client = subscribe();
    expect(client.subscription.request(SubmitExecutorReportsDocument, started('1'))).toBe(
      undefined,
    );
    await client.until(() => client.connections() === 1);
    const answer = await client.subscription.request(SubmitExecutorReportsDocument, started('1'));
    expect(answer?.submitExecutorReports.refused).toEqual([]);
    expect(server.requests.at(-1)).toMatchObject({
      field: 'submitExecutorReports',
      executorId: '9',
      transport: 'ws',
    });

    server.handlers.submitExecutorReports = () => {
      throw protocolError('BAD_USER_INPUT', 'no such field');
    };
    const refusal = await client.subscription
      .request(SubmitExecutorReportsDocument, started('2'))
      ?.catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(GraphqlRequestError);
    expect(refusal).toMatchObject({ kind: 'rejected', code: 'BAD_USER_INPUT' });

    await client.subscription.stop();
    expect(client.subscription.request(SubmitExecutorReportsDocument, started('3'))).toBe(
      undefined,
    );
  });

  it('fails a request in flight at once (retryable) when its socket closes', async () => {
    const client = subscribe();
    await client.until(() => client.connections() === 1);
    server.handlers.submitExecutorReports = () => new Promise(() => undefined);
    const pending = client.subscription
      .request(SubmitExecutorReportsDocument, started('1'))
      ?.catch((error: unknown) => error);
    await server.waitForCall((call) => call.field === 'submitExecutorReports');
    server.dropWebSockets();
    expect(await pending).toMatchObject({ kind: 'retryable', code: 'NETWORK' });
  });

  it('reconnects with a fresh token after the connection is lost', async () => {
    const client = subscribe();
    await client.until(() => client.connections() === 1);
    server.dropWebSockets();
    await client.until(() => client.connections() === 2);
    // The fake server refuses a replayed jti, so the second connection proves a new token.
    expect(server.connectionCount).toBe(2);
    await server.waitForSubscriber();
    server.push(shellAssignment());
    await client.until(() => client.messages.length === 1);
  });

  it('starts over when the server fails the subscription', async () => {
    server.failNextSubscriptions = 1;
    const client = subscribe();
    await client.until(() => client.connections() === 2);
    await server.waitForSubscriber();
    server.push(shellAssignment());
    await client.until(() => client.messages.length === 1);
  });

  it('gives up after three refusals in a row', async () => {
    server.isAcceptingConnections = false;
    const client = subscribe();
    await client.refused;
    expect(server.refusedConnectionCount).toBe(3);
    expect(client.connections()).toBe(0);
  });

  it('reconnects at once when told the server is reachable again, not at the end of its backoff', async () => {
    const { proxy: network, url } = await proxy();
    // A backoff as long as the old 30 s cap would make it, shortened to keep the test quick.
    const client = subscribe({ url, backoff: { initialMs: 10_000, maxMs: 10_000 } });
    await client.until(() => client.connections() === 1);
    await server.waitForSubscriptions(1);
    network.cut('refuse');
    await client.until(() => client.logs.some((line) => line.message === 'waiting to reconnect'));
    network.restore();
    await sleep(300);
    expect(client.connections()).toBe(1); // Still waiting: the network alone does not help.

    const nudgedAt = Date.now();
    client.subscription.retryNow();
    await client.until(() => client.connections() === 2);
    const reconnectMs = Date.now() - nudgedAt;
    // Well inside the 10 s backoff it would otherwise wait out (typically ~10 ms; the margin is
    // for a loaded machine).
    expect(reconnectMs).toBeLessThan(3_000);
    await server.waitForSubscriptions(2);
    server.push(shellAssignment());
    await client.until(() => client.messages.length === 1);
  });

  it('gives up a connection attempt stuck in a network that drops packets', async () => {
    const { proxy: network, url } = await proxy();
    const client = subscribe({ url });
    await client.until(() => client.connections() === 1);
    network.cut('blackhole');
    // The next attempt hangs unanswered (it would until the 10 s opening timeout).
    while (network.heldCount === 0) await sleep(20);
    await sleep(1_200);
    network.restore();
    const nudgedAt = Date.now();
    client.subscription.retryNow();
    await client.until(() => client.connections() === 2);
    expect(Date.now() - nudgedAt).toBeLessThan(3_000);
  });

  it('subscribes again at once when told so while waiting after a failed subscription', async () => {
    server.failNextSubscriptions = 1;
    const client = subscribe({ backoff: { initialMs: 10_000, maxMs: 10_000 } });
    await client.until(() =>
      client.logs.some((line) => line.message === 'the subscription failed; starting over'),
    );
    const nudgedAt = Date.now();
    client.subscription.retryNow();
    await client.until(() => client.connections() === 2);
    expect(Date.now() - nudgedAt).toBeLessThan(3_000);
    await server.waitForSubscriber();
  });

  it('is not disturbed by retryNow() while connected', async () => {
    const client = subscribe();
    await client.until(() => client.connections() === 1);
    await server.waitForSubscriber();
    client.subscription.retryNow();
    await sleep(100);
    expect(client.connections()).toBe(1);
    server.push(shellAssignment());
    await client.until(() => client.messages.length === 1);
  });

  it('waits at most 5 s between connection attempts by default', async () => {
    expect(maxReconnectDelayMs).toBe(5_000);
    const delays = Array.from({ length: 40 }, (_, index) => reconnectDelayMs(index + 1));
    expect(Math.max(...delays)).toBeLessThanOrEqual(5_000);
    // Exponential from 500 ms (±20%) up to the cap.
    expect(delays[0]).toBeGreaterThanOrEqual(400);
    expect(delays[0]).toBeLessThanOrEqual(600);
    expect(Math.min(...delays.slice(5))).toBeGreaterThanOrEqual(4_000);

    // And that is the wait the subscription uses when given no backoff.
    const { proxy: network, url } = await proxy();
    network.cut('refuse');
    const client = subscribe({ url, backoff: {} });
    await client.until(() => client.logs.some((line) => line.message === 'waiting to reconnect'));
    const waits = client.logs.filter((line) => line.message === 'waiting to reconnect');
    expect(waits[0]?.retryInMs).toBeLessThanOrEqual(600);
  });
});
