import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../../../src/database/sql.js';
import { CronTicker, defaultTickerOptions } from '../../../src/scheduler/cron-ticker.js';
import { createLogger } from '../../../src/shared/logger.js';
import { SnowflakeGenerator } from '../../../src/shared/snowflake.js';
import { CreateTaskDocument, RunTaskDocument } from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';

interface FireRow {
  scheduled_at: Date;
  status: number;
  status_reason: string | null;
}

/**
 * The ticker against real PostgreSQL with a fake clock (`tick(now)`): several tickers stand for
 * several replicas racing for the same fires.
 */
describe('cron ticker', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  const logger = createLogger('error');
  const tickers = (count: number, misfireThresholdMs = 1_000) =>
    Array.from(
      { length: count },
      (_, i) =>
        new CronTicker(server.app.orm, new SnowflakeGenerator(900 + i), logger, {
          ...defaultTickerOptions,
          misfireThresholdMs,
        }),
    );
  const sql = <T>(text: string, params: unknown[] = []) =>
    query<T>(server.app.orm.em.fork(), text, params);
  const fires = async (taskId: string): Promise<FireRow[]> => {
    const rows = await sql<FireRow>(
      'select scheduled_at, status, status_reason from task_instances where task_id = $1 order by scheduled_at',
      [Number(taskId)],
    );
    return rows.map((row) => ({ ...row, scheduled_at: new Date(row.scheduled_at) }));
  };
  const everySecond = async (extra: Record<string, unknown> = {}) => {
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: {
        name: `ticking ${Math.random()}`,
        command: 'true',
        cronExpression: '* * * * * *',
        maxParallelRuns: 1000,
        overlapPolicy: 'WAIT',
        ...extra,
      },
    });
    return createTask.id;
  };
  const at = (seconds: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, 0) + seconds * 1000);

  beforeAll(async () => {
    server = await startTestServer({ GRAPHCRON_CRON_TICKER: '0' });
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  it('three replicas ticking together fire every second exactly once', async () => {
    const taskId = await everySecond();
    await sql('update tasks set next_fire_at = $2 where id = $1', [Number(taskId), at(0)]);
    const replicas = tickers(3);
    for (let second = 0; second < 20; second++) {
      await Promise.all(
        replicas.map((ticker) => ticker.tick(new Date(at(second).getTime() + 300))),
      );
    }
    const rows = await fires(taskId);
    expect(rows.map((r) => r.scheduled_at.toISOString())).toEqual(
      Array.from({ length: 20 }, (_, s) => at(s).toISOString()),
    );
    expect(new Set(rows.map((r) => r.status))).toEqual(new Set([10]));
    const [task] = await sql<{ next_fire_at: Date; fired_count: number }>(
      'select next_fire_at, fired_count from tasks where id = $1',
      [Number(taskId)],
    );
    expect(new Date(task!.next_fire_at)).toEqual(at(20));
    expect(task!.fired_count).toBe(20);
  });

  it('misfire SKIP after a 10 s stop: missed fires recorded SKIPPED, the schedule goes on', async () => {
    const taskId = await everySecond({ misfirePolicy: 'SKIP' });
    await sql('update tasks set next_fire_at = $2 where id = $1', [Number(taskId), at(0)]);
    await tickers(1)[0]!.tick(new Date(at(10).getTime() + 300));
    const rows = await fires(taskId);
    expect(rows).toHaveLength(11);
    const skipped = rows.filter((r) => r.status === 12);
    expect(skipped.map((r) => r.scheduled_at.getUTCSeconds())).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
    ]);
    expect(skipped[0]!.status_reason).toMatch(/misfire/);
    expect(rows.filter((r) => r.status === 10).map((r) => r.scheduled_at.getUTCSeconds())).toEqual([
      10,
    ]);
  });

  it('misfire FIRE_ONCE after a 10 s stop: one run for the missed fires', async () => {
    const taskId = await everySecond({ misfirePolicy: 'FIRE_ONCE' });
    await sql('update tasks set next_fire_at = $2 where id = $1', [Number(taskId), at(0)]);
    await tickers(1)[0]!.tick(new Date(at(10).getTime() + 300));
    const rows = await fires(taskId);
    expect(rows.filter((r) => r.status === 10).map((r) => r.scheduled_at.getUTCSeconds())).toEqual([
      9, 10,
    ]);
    expect(rows.filter((r) => r.status === 12)).toHaveLength(9);
  });

  it('overlap SKIP at maxParallelRuns records the fire SKIPPED; a manual run gets CONFLICT', async () => {
    const taskId = await everySecond({ maxParallelRuns: 1, overlapPolicy: 'SKIP' });
    await sql('update tasks set next_fire_at = $2 where id = $1', [Number(taskId), at(0)]);
    const [ticker] = tickers(1);
    await ticker!.tick(new Date(at(0).getTime() + 300));
    await ticker!.tick(new Date(at(1).getTime() + 300));
    const rows = await fires(taskId);
    expect(rows.map((r) => [r.scheduled_at.getUTCSeconds(), r.status])).toEqual([
      [0, 10],
      [1, 12],
    ]);
    expect(rows[1]!.status_reason).toMatch(/overlap/);
    expect(await admin.errorCode(RunTaskDocument, { id: taskId })).toBe('CONFLICT');
  });

  it('with a lead, fires are made that long ahead; a SKIP task with a run in progress only on time', async () => {
    const waiting = await everySecond();
    const skipping = await everySecond({ maxParallelRuns: 5, overlapPolicy: 'SKIP' });
    for (const id of [waiting, skipping]) {
      await sql('update tasks set next_fire_at = $2 where id = $1', [Number(id), at(0)]);
    }
    const ticker = new CronTicker(server.app.orm, new SnowflakeGenerator(950), logger, {
      ...defaultTickerOptions,
      misfireThresholdMs: 1_000,
      leadMs: 700,
    });
    for (const second of [0, 1, 2]) await ticker.tick(new Date(at(second).getTime() + 400));
    const seconds = async (id: string) =>
      (await fires(id)).map((r) => [r.scheduled_at.getUTCSeconds(), r.status]);
    // 0.4 s into each second, fires up to 1.1 s ahead: the next second's too.
    expect(await seconds(waiting)).toEqual([
      [0, 10],
      [1, 10],
      [2, 10],
      [3, 10],
    ]);
    // Idle at the first tick, it got the lead then; with runs in progress, only what is due.
    expect(await seconds(skipping)).toEqual([
      [0, 10],
      [1, 10],
      [2, 10],
    ]);
  });

  it('a cron run carries the same snapshot as a manual run', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: {
        name: 'snapshot',
        command: 'echo $GREETING',
        cronExpression: '0 0 * * * *',
        env: [{ name: 'GREETING', value: 'hi' }],
        timeoutSeconds: 42,
        retryTimes: 2,
        overlapPolicy: 'WAIT',
        maxParallelRuns: 5,
      },
    });
    await sql('update tasks set next_fire_at = $2 where id = $1', [
      Number(createTask.id),
      at(3600),
    ]);
    await tickers(1)[0]!.tick(new Date(at(3600).getTime() + 300));
    await admin.data(RunTaskDocument, { id: createTask.id });
    const columns =
      'task_name, kind, command, env, working_directory, http_request, expected_exit_code, expected_output, cron_expression, time_zone, timeout_seconds, retry_times, max_parallel_runs, tag, priority, retry_interval_seconds, retry_backoff, retry_max_interval_seconds';
    const rows = await sql<Record<string, unknown>>(
      `select trigger, ${columns} from task_instances where task_id = $1 order by trigger`,
      [Number(createTask.id)],
    );
    expect(rows.map((r) => r.trigger)).toEqual(['CRON', 'MANUAL']);
    const [cron, manual] = rows.map(({ trigger: _trigger, ...rest }) => rest);
    expect(cron).toEqual(manual);
  });
});
