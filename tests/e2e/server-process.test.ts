import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient } from 'graphql-ws';
import pg from 'pg';
import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { CreateTaskDocument, MeDocument, RunTaskDocument } from '../generated/graphql.js';
import { GraphqlClient } from '../helpers/graphql-client.js';
import { waitForStatus } from '../helpers/runs.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { wsClient } from '../helpers/ws-client.js';

async function loginAs(url: string, username: string, password: string): Promise<string> {
  const result = await new GraphqlClient(url).raw(
    'mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }',
    { u: username, p: password },
  );
  return (result.data as { login: { accessToken: string } }).login.accessToken;
}

/** Sessions still open on the database: a clean shutdown leaves none. */
async function connectionsTo(database: TestDatabase): Promise<number> {
  const client = new pg.Client({ connectionString: database.url.replace(/\/[^/]+$/, '/postgres') });
  await client.connect();
  try {
    const result = await client.query(
      'select count(*)::int as n from pg_stat_activity where datname = $1',
      [database.name],
    );
    return (result.rows[0] as { n: number }).n;
  } finally {
    await client.end();
  }
}

describe('the server process', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('on DATABASE_URL: creates the admin, serves HTTP and WebSocket, and drains on SIGTERM', async () => {
    const database: TestDatabase = await createTestDatabase();
    cleanups.push(() => database.drop());
    const server: ServerProcess = await startServerProcess({
      DATABASE_URL: database.url,
      GRAPHCRON_ADMIN_USERNAME: 'root-admin',
      GRAPHCRON_ADMIN_PASSWORD: 'chosen-password',
    });
    cleanups.push(async () => void (await server.stop('SIGKILL')));
    expect(server.output()).toContain(
      'Created the first admin "root-admin" with the password from GRAPHCRON_ADMIN_PASSWORD',
    );
    expect(server.output()).not.toContain('chosen-password');

    const token = await loginAs(server.url, 'root-admin', 'chosen-password');
    const ws = createClient({
      url: server.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => undefined, // the close on shutdown is asserted below
    });
    const closed = new Promise<number>((resolve) =>
      ws.on('closed', (event) => resolve((event as { code: number }).code)),
    );
    const viaSocket = await new Promise((resolve, reject) => {
      ws.subscribe(
        { query: '{ me { username } }' },
        { next: resolve, error: reject, complete: () => undefined },
      );
    });
    expect(viaSocket).toEqual({ data: { me: { username: 'root-admin' } } });

    expect(await server.stop('SIGTERM')).toBe(0);
    expect(await closed).toBeGreaterThanOrEqual(1000);
    await ws.dispose();
    expect(await connectionsTo(database)).toBe(0);
  });

  it('without DATABASE_URL: runs an embedded PostgreSQL, keeps its data, and stops it on SIGTERM', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'graphcron-start-'));
    chmodSync(dataDir, 0o755);
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));

    const first = await startServerProcess({ GRAPHCRON_DATA_DIR: dataDir });
    cleanups.push(async () => void (await first.stop('SIGKILL')));
    const password = /with password: (\S+)/.exec(first.output())?.[1];
    expect(password).toBeTruthy();
    const admin = new GraphqlClient(first.url, await loginAs(first.url, 'admin', password!));
    expect((await admin.data(MeDocument)).me.role).toBe('ADMIN');

    // The local executor beside it runs a task with nothing else set up (the README's tour).
    expect(first.output()).toContain('A local executor runs beside it');
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: { name: 'hello', command: 'echo hello from graphcron', bindingIds: ['1'] },
    });
    const { runTask } = await admin.data(RunTaskDocument, { id: createTask.id });
    const socket = wsClient(first.url, () => ({ authorization: `Bearer ${admin.token}` }));
    const outcome = await waitForStatus(admin, socket, runTask.id, ['FINISHED', 'ABNORMAL_ENDING']);
    await socket.dispose();
    expect(outcome.status).toBe('FINISHED');
    expect(outcome.logs.nodes.map((l) => l.content).join('')).toBe('hello from graphcron\n');
    expect(await first.stop('SIGTERM')).toBe(0);
    expect(existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);

    const second = await startServerProcess({ GRAPHCRON_DATA_DIR: dataDir });
    cleanups.push(async () => void (await second.stop('SIGKILL')));
    expect(second.output()).not.toContain('Created the first admin');
    await loginAs(second.url, 'admin', password!);
    expect(await second.stop('SIGINT')).toBe(0);
    expect(existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
  });
});
