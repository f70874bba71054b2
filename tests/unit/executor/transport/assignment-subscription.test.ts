import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TokenSigner } from '../../../../executor/auth/executor-token.js';
import { silentLogger } from '../../../../executor/logger.js';
import { AssignmentSubscription } from '../../../../executor/transport/assignment-subscription.js';
import type { ExecutorMessage } from '../../../../executor/work/executor-message.js';
import { shellAssignment } from '../helpers/assignments.js';
import { enrolledSigner } from '../helpers/executor-keys.js';
import { FakeProtocolServer } from '../helpers/fake-protocol-server.js';

describe('AssignmentSubscription', () => {
  let server: FakeProtocolServer;
  let signToken: TokenSigner;
  const subscriptions: AssignmentSubscription[] = [];

  beforeEach(async () => {
    server = await FakeProtocolServer.start();
    signToken = enrolledSigner(server, '9');
  });
  afterEach(async () => {
    await Promise.all(subscriptions.splice(0).map((subscription) => subscription.stop()));
    await server.stop();
  });

  /** Starts a subscription whose events tests can await. */
  function subscribe() {
    const messages: ExecutorMessage[] = [];
    let connections = 0;
    const waiters = new Set<() => void>();
    const notify = (): void => waiters.forEach((waiter) => waiter());
    let onRefused: () => void = () => undefined;
    const refused = new Promise<void>((resolve) => (onRefused = resolve));
    const subscription = new AssignmentSubscription({
      url: server.url.replace('http:', 'ws:'),
      signToken,
      logger: silentLogger,
      backoff: { initialMs: 20, maxMs: 50 },
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
    return { messages, connections: () => connections, until, refused, subscription };
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
});
