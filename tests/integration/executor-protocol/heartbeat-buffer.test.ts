import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeartbeatBuffer } from '../../../src/executor-protocol/heartbeat-buffer.js';
import { createLogger } from '../../../src/shared/logger.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { insertBinding, sql } from '../tasks/fixtures.js';

/**
 * Heartbeats are written once a second for every executor heard from. An executor whose row
 * is held (a run being placed on it, a dispatch pass) is written at a later flush: the flush
 * never waits for it, so that runTask calls do not queue behind the flush.
 */
describe('the heartbeat buffer', () => {
  let server: TestServer;
  let executorId: number;
  beforeAll(async () => {
    server = await startTestServer();
    await insertBinding(server, 'heartbeats');
    const [row] = await sql<{ id: number }>(
      server,
      "select id from executors where name = 'executor-heartbeats'",
    );
    executorId = row!.id;
  });
  afterAll(() => server?.stop());

  const stateOf = async () =>
    (
      await sql<{ is_online: boolean; last_heartbeat_at: string | null }>(
        server,
        'select is_online, last_heartbeat_at from executors where id = ?',
        [executorId],
      )
    )[0]!;

  it('does not wait for a held executor row, and writes its heartbeat at the next flush', async () => {
    const buffer = new HeartbeatBuffer(server.app.orm, createLogger('error'));
    const holder = new pg.Client({ connectionString: server.database.url });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query('select id from executors where id = $1 for update', [executorId]);
      buffer.record(executorId);
      await buffer.flush(); // resolves while the row is held
      expect(await stateOf()).toMatchObject({ is_online: false, last_heartbeat_at: null });
      await holder.query('commit');
    } finally {
      await holder.end();
    }
    await buffer.flush();
    const state = await stateOf();
    expect(state.is_online).toBe(true);
    expect(state.last_heartbeat_at).not.toBeNull();
  });
});
