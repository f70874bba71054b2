import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../executor/logger.js';
import { createGraphqlHttpClient } from '../../../../executor/transport/graphql-http-client.js';
import { Heartbeat } from '../../../../executor/work/heartbeat.js';
import { enrolledSigner } from '../helpers/executor-keys.js';
import { FakeProtocolServer } from '../helpers/fake-protocol-server.js';

describe('Heartbeat', () => {
  let server: FakeProtocolServer;
  const heartbeats: Heartbeat[] = [];

  beforeEach(async () => {
    server = await FakeProtocolServer.start();
  });
  afterEach(async () => {
    await Promise.all(heartbeats.splice(0).map((heartbeat) => heartbeat.stop()));
    await server.stop();
  });

  function startHeartbeat(onReachable: () => void): Heartbeat {
    const heartbeat = new Heartbeat({
      client: createGraphqlHttpClient({ url: server.url, signToken: enrolledSigner(server, '3') }),
      intervalMs: 20,
      activeInstanceIds: () => ['41'],
      onAbandoned: () => undefined,
      onReachable,
      logger: silentLogger,
    });
    heartbeats.push(heartbeat);
    heartbeat.start();
    return heartbeat;
  }

  const beatsAccepted = (count: number) =>
    server.waitForCall(
      (call) =>
        call.field === 'executorHeartbeat' && server.callsTo('executorHeartbeat').length >= count,
    );

  it('says the server is reachable again when a heartbeat is accepted after failed ones, once per outage', async () => {
    server.dropNextRequests = 3;
    let reachable = 0;
    let onReachable: () => void = () => undefined;
    startHeartbeat(() => {
      reachable += 1;
      onReachable();
    });
    const nextReachable = () => new Promise<void>((resolve) => (onReachable = resolve));

    await nextReachable();
    expect(server.requests.filter((call) => call.field === 'executorHeartbeat')).toHaveLength(1);
    await beatsAccepted(5);
    expect(reachable).toBe(1);

    const secondOutage = nextReachable();
    server.dropNextRequests = 2;
    await secondOutage;
    expect(reachable).toBe(2);
  });

  it('says nothing while every heartbeat is accepted', async () => {
    let reachable = 0;
    startHeartbeat(() => (reachable += 1));
    await beatsAccepted(5);
    expect(reachable).toBe(0);
  });
});
