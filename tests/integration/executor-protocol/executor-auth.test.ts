import { generateKeyPairSync } from 'node:crypto';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ExecutorDocument,
  ExecutorHeartbeatDocument,
  MeDocument,
  UpdateExecutorDocument,
} from '../../generated/graphql.js';
import { GraphqlClient } from '../../helpers/graphql-client.js';
import { TestExecutor } from '../../helpers/test-executor.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { wsClient } from '../../helpers/ws-client.js';

describe('executor authentication', () => {
  let server: TestServer;
  let executor: TestExecutor;
  beforeAll(async () => {
    server = await startTestServer();
    executor = await TestExecutor.enroll(server, { name: 'auth-executor' });
  });
  afterAll(async () => {
    await executor?.close();
    await server?.stop();
  });

  const heartbeat = (token: string) =>
    new GraphqlClient(server.anonymous.url, token).execute(ExecutorHeartbeatDocument, {
      input: { runningInstanceIds: [] },
    });

  it('accepts a fresh token signed with the executor key', async () => {
    const result = await heartbeat(await executor.token());
    expect(result.errors).toBeUndefined();
    expect(result.data?.executorHeartbeat.abandonedInstanceIds).toEqual([]);
  });

  it('refuses forged, expired, replayed, long-lived, unknown and disabled', async () => {
    const now = Math.floor(Date.now() / 1000);
    const replayed = await executor.token();
    expect((await heartbeat(replayed)).errors).toBeUndefined();
    const cases: [string, string, RegExp][] = [
      ['replayed', replayed, /used before/],
      ['expired', await executor.token({ iat: now - 400, exp: now - 100 }), /expired/],
      [
        'wrong key',
        await executor.token({
          key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
        }),
        /not valid/,
      ],
      ['long-lived', await executor.token({ exp: now + 3600 }), /at most 300 seconds/],
      ['unknown executor', await executor.token({ sub: '99999' }), /not registered/],
      ['wrong audience', await executor.token({ aud: 'graphcron-api' }), /not valid/],
    ];
    for (const [name, token, message] of cases) {
      const error = (await heartbeat(token)).errors?.[0];
      expect(error?.extensions?.code, name).toBe('UNAUTHENTICATED');
      expect(error?.message, name).toMatch(message);
    }
    const admin = await server.asAdmin();
    await admin.data(UpdateExecutorDocument, { id: executor.id, input: { isEnabled: false } });
    const disabled = (await heartbeat(await executor.token())).errors?.[0];
    expect(disabled?.message).toMatch(/disabled/);
    await admin.data(UpdateExecutorDocument, { id: executor.id, input: { isEnabled: true } });
  });

  it('keeps executors and users apart', async () => {
    const asExecutor = await new GraphqlClient(
      server.anonymous.url,
      await executor.token(),
    ).execute(MeDocument);
    expect(asExecutor.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const admin = await server.asAdmin();
    const asUser = await admin.execute(ExecutorHeartbeatDocument, {
      input: { runningInstanceIds: [] },
    });
    expect(asUser.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('closes a WebSocket that presents a bad token with 4403', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await executor.token({ iat: now - 400, exp: now - 100 });
    const client = wsClient(server.anonymous.url, () => ({ authorization: `Bearer ${expired}` }));
    const code = await new Promise<number>((resolve) => {
      client.on('closed', (event) => resolve((event as { code: number }).code));
      client.subscribe(
        { query: 'subscription { executorAssignments { __typename } }' },
        { next: () => undefined, error: () => undefined, complete: () => undefined },
      );
    });
    expect(code).toBe(4403);
    await client.dispose();
  });

  it('ends the assignment stream and closes the socket of an executor disabled while connected', async () => {
    const other = await TestExecutor.enroll(server, { name: 'disabled-while-connected' });
    // A raw graphql-ws socket: a client library would close it itself once its only
    // subscription ends, and this is about the server closing it.
    const socket = new WebSocket(
      server.anonymous.url.replace(/^http/, 'ws'),
      'graphql-transport-ws',
    );
    const messages: { id?: string; type: string; payload?: unknown }[] = [];
    socket.on('message', (data: WebSocket.RawData) => messages.push(JSON.parse(String(data))));
    const closedWith = new Promise<number>((resolve) => socket.on('close', resolve));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    socket.send(
      JSON.stringify({
        type: 'connection_init',
        payload: { authorization: `Bearer ${await other.token()}` },
      }),
    );
    await expect.poll(() => messages.some((m) => m.type === 'connection_ack')).toBe(true);
    socket.send(
      JSON.stringify({
        id: '1',
        type: 'subscribe',
        payload: { query: 'subscription { executorAssignments { __typename } }' },
      }),
    );
    const admin = await server.asAdmin();
    // Connected (the stream is open once the executor shows online).
    await expect
      .poll(async () => (await admin.data(ExecutorDocument, { id: other.id })).executor.isOnline)
      .toBe(true);
    await admin.data(UpdateExecutorDocument, { id: other.id, input: { isEnabled: false } });
    // The socket goes too (it also carries the executor's reports), after the stream's error.
    expect(await closedWith).toBe(4403);
    const ended = messages.find((m) => m.id === '1' && m.type === 'error');
    expect(JSON.stringify(ended?.payload)).toMatch(/disabled, deleted or re-keyed/);
  });
});
