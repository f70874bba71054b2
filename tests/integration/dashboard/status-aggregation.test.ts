import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusAggregation } from '../../../src/dashboard/status-aggregation.service.js';
import { AggregationBucket } from '../../../src/dashboard/status-aggregation.types.js';
import { StatusAggregationDocument, type StatusAggregationQuery } from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { createUser } from '../../helpers/users.js';
import { sql } from '../tasks/fixtures.js';

/** Status codes, as stored. */
const status = {
  RUNNING: 1,
  FINISHED: 2,
  ABNORMAL_ENDING: 3,
  TIMEOUT_ENDING: 4,
  MANUAL_CANCELLATION: 5,
  SCHEDULED: 10,
  DISPATCHED: 11,
  SKIPPED: 12,
  UNKNOWN: 81,
} as const;

type StatusBucket = StatusAggregationQuery['statusAggregation'][number];

const zero: Omit<StatusBucket, 'bucketStart'> = {
  scheduled: 0,
  running: 0,
  finished: 0,
  abnormal: 0,
  timeout: 0,
  cancelled: 0,
  unknown: 0,
  skipped: 0,
  total: 0,
};

/** A bucket with the given counts, the rest zero, and the total of them. */
function bucket(bucketStart: string, counts: Partial<typeof zero> = {}) {
  const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
  return { bucketStart, ...zero, ...counts, total };
}

/*
 * Runs are inserted with SQL at chosen creation times in 2001, when no other run of this
 * database exists (it has no tasks, so the ticker creates none).
 */
describe('statusAggregation: runs by status per time bucket', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
    const runs: [string, keyof typeof status][] = [
      ['2001-02-03T10:05:00Z', 'SCHEDULED'],
      ['2001-02-03T10:20:00Z', 'DISPATCHED'],
      ['2001-02-03T10:59:59.999Z', 'FINISHED'],
      ['2001-02-03T11:00:00Z', 'RUNNING'],
      ['2001-02-03T11:30:00Z', 'FINISHED'],
      // 12:00 to 13:00: none.
      ['2001-02-03T13:10:00Z', 'ABNORMAL_ENDING'],
      ['2001-02-03T13:11:00Z', 'TIMEOUT_ENDING'],
      ['2001-02-03T13:12:00Z', 'MANUAL_CANCELLATION'],
      ['2001-02-03T13:40:00Z', 'UNKNOWN'],
      ['2001-02-03T13:59:00Z', 'SKIPPED'],
      ['2001-02-03T14:00:00Z', 'FINISHED'],
      ['2001-02-04T23:59:59Z', 'FINISHED'],
    ];
    let id = 1000;
    for (const [createdAt, name] of runs) {
      await sql(
        server,
        'insert into task_instances (id, task_name, kind, command, time_zone, timeout_seconds, ' +
          "retry_times, max_parallel_runs, tag, trigger, status, created_at) values (?, 'seeded', " +
          "'SHELL', 'true', 'UTC', 60, 0, 1, '', 'MANUAL', ?, ?)",
        [String(id++), status[name], createdAt],
      );
    }
  });
  afterAll(() => server?.stop());

  const aggregate = async (since: string, until: string, bucket?: 'MINUTE' | 'HOUR' | 'DAY') =>
    (await admin.data(StatusAggregationDocument, { since, until, bucket })).statusAggregation;

  it('counts by hour (the default), listing empty buckets, until excluded', async () => {
    expect(await aggregate('2001-02-03T09:00:00Z', '2001-02-03T14:00:00Z')).toEqual([
      bucket('2001-02-03T09:00:00.000Z'),
      bucket('2001-02-03T10:00:00.000Z', { scheduled: 2, finished: 1 }),
      bucket('2001-02-03T11:00:00.000Z', { running: 1, finished: 1 }),
      bucket('2001-02-03T12:00:00.000Z'),
      bucket('2001-02-03T13:00:00.000Z', {
        abnormal: 1,
        timeout: 1,
        cancelled: 1,
        unknown: 1,
        skipped: 1,
      }),
    ]);
  });

  it('a range off the bucket edges counts only its own runs, in the buckets it touches', async () => {
    expect(await aggregate('2001-02-03T10:30:00Z', '2001-02-03T13:30:00Z', 'HOUR')).toEqual([
      bucket('2001-02-03T10:00:00.000Z', { finished: 1 }),
      bucket('2001-02-03T11:00:00.000Z', { running: 1, finished: 1 }),
      bucket('2001-02-03T12:00:00.000Z'),
      bucket('2001-02-03T13:00:00.000Z', { abnormal: 1, timeout: 1, cancelled: 1 }),
    ]);
    // A range inside one bucket: one entry.
    expect(await aggregate('2001-02-03T10:10:00Z', '2001-02-03T10:10:00.001Z')).toEqual([
      bucket('2001-02-03T10:00:00.000Z'),
    ]);
  });

  it('counts by minute and by UTC day', async () => {
    const minutes = await aggregate('2001-02-03T13:09:00Z', '2001-02-03T13:13:00Z', 'MINUTE');
    expect(minutes).toEqual([
      bucket('2001-02-03T13:09:00.000Z'),
      bucket('2001-02-03T13:10:00.000Z', { abnormal: 1 }),
      bucket('2001-02-03T13:11:00.000Z', { timeout: 1 }),
      bucket('2001-02-03T13:12:00.000Z', { cancelled: 1 }),
    ]);
    expect(await aggregate('2001-02-02T12:00:00Z', '2001-02-05T00:00:00Z', 'DAY')).toEqual([
      bucket('2001-02-02T00:00:00.000Z'),
      bucket('2001-02-03T00:00:00.000Z', {
        scheduled: 2,
        running: 1,
        finished: 3,
        abnormal: 1,
        timeout: 1,
        cancelled: 1,
        unknown: 1,
        skipped: 1,
      }),
      bucket('2001-02-04T00:00:00.000Z', { finished: 1 }),
    ]);
  });

  it('allows up to 1000 buckets, and refuses more or an empty range, naming the field', async () => {
    const thousand = await aggregate('2001-02-03T00:00:00Z', '2001-02-03T16:40:00Z', 'MINUTE');
    expect(thousand).toHaveLength(1000);
    expect(thousand.at(-1)!.bucketStart).toBe('2001-02-03T16:39:00.000Z');
    expect(thousand.reduce((sum, b) => sum + b.total, 0)).toBe(11);

    const tooMany = await admin.error(StatusAggregationDocument, {
      since: '2001-02-03T00:00:00Z',
      until: '2001-02-03T16:40:00.001Z',
      bucket: 'MINUTE',
    });
    expect(tooMany.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'until' });
    expect(tooMany.message).toMatch(/1001 MINUTE buckets/);
    for (const until of ['2001-02-03T00:00:00Z', '2001-02-02T00:00:00Z']) {
      const error = await admin.error(StatusAggregationDocument, {
        since: '2001-02-03T00:00:00Z',
        until,
      });
      expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'until' });
    }
  });

  it("buckets in UTC whatever the session's time zone", async () => {
    const days = await server.app.orm.em.fork().transactional(async (em) => {
      await em.execute("set local time zone 'Asia/Tokyo'");
      return statusAggregation(em, {
        since: new Date('2001-02-03T00:00:00Z'),
        until: new Date('2001-02-05T00:00:00Z'),
        bucket: AggregationBucket.DAY,
      });
    });
    expect(days.map((day) => [day.bucketStart.toISOString(), day.total])).toEqual([
      ['2001-02-03T00:00:00.000Z', 11],
      ['2001-02-04T00:00:00.000Z', 1],
    ]);
  });

  it('is for any logged-in user', async () => {
    const guest = await createUser(server, 'GUEST');
    const range = { since: '2001-02-03T10:00:00Z', until: '2001-02-03T11:00:00Z' };
    const { statusAggregation } = await guest.client.data(StatusAggregationDocument, range);
    expect(statusAggregation).toHaveLength(1);
    expect(await server.anonymous.errorCode(StatusAggregationDocument, range)).toBe(
      'UNAUTHENTICATED',
    );
  });
});
