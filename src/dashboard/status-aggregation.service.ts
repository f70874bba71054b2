import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../database/sql.js';
import { ValidationError } from '../shared/app-error.js';
import { TaskInstanceStatus } from '../task-instances/task-instance-status.js';
import { AggregationBucket, type StatusBucket } from './status-aggregation.types.js';

export const maxBuckets = 1000;

/** Width of each bucket; `date_trunc` and interval names of PostgreSQL. UTC has no DST. */
const buckets: Record<AggregationBucket, { unit: string; ms: number }> = {
  [AggregationBucket.MINUTE]: { unit: 'minute', ms: 60_000 },
  [AggregationBucket.HOUR]: { unit: 'hour', ms: 3_600_000 },
  [AggregationBucket.DAY]: { unit: 'day', ms: 86_400_000 },
};

type CountName = Exclude<keyof StatusBucket, 'bucketStart' | 'total'>;

/** Which statuses each count adds up. Every status is in one count (total counts them all). */
const counted: readonly (readonly [CountName, readonly TaskInstanceStatus[]])[] = [
  ['scheduled', [TaskInstanceStatus.SCHEDULED, TaskInstanceStatus.DISPATCHED]],
  ['running', [TaskInstanceStatus.RUNNING]],
  ['finished', [TaskInstanceStatus.FINISHED]],
  ['abnormal', [TaskInstanceStatus.ABNORMAL_ENDING]],
  ['timeout', [TaskInstanceStatus.TIMEOUT_ENDING]],
  ['cancelled', [TaskInstanceStatus.MANUAL_CANCELLATION]],
  ['unknown', [TaskInstanceStatus.UNKNOWN]],
  ['skipped', [TaskInstanceStatus.SKIPPED]],
];

/*
 * One statement: the runs created in [since, until) are counted per bucket in one scan, and
 * joined to every bucket start of the range (generate_series), so empty buckets are listed too.
 * Buckets are computed on UTC wall time (`at time zone 'UTC'`), so they do not depend on the
 * session's time zone. The statuses are the code's own constants, never user input.
 */
const statusAggregationSql = `
  with counts as (
    select date_trunc($3, i.created_at at time zone 'UTC') as bucket,
           ${counted
             .map(([name, statuses]) => {
               return `(count(*) filter (where i.status in (${statuses.join(', ')})))::int as ${name}`;
             })
             .join(',\n           ')},
           count(*)::int as total
      from task_instances i
     where i.created_at >= $1 and i.created_at < $2
     group by 1
  )
  select b.bucket at time zone 'UTC' as "bucketStart",
         ${counted.map(([name]) => `coalesce(c.${name}, 0) as ${name}`).join(', ')},
         coalesce(c.total, 0) as total
    from generate_series(
           date_trunc($3, $1::timestamptz at time zone 'UTC'),
           ($2::timestamptz at time zone 'UTC') - interval '1 microsecond',
           $4::interval
         ) as b(bucket)
    left join counts c on c.bucket = b.bucket
   order by b.bucket`;

/**
 * Counts of runs by status per time bucket, for runs created in `[since, until)`: one entry per
 * bucket that overlaps the range, in order, empty ones included.
 */
export async function statusAggregation(
  em: EntityManager,
  args: { since: Date; until: Date; bucket: AggregationBucket },
): Promise<StatusBucket[]> {
  const { since, until } = args;
  const bucket = buckets[args.bucket];
  if (until <= since) {
    throw new ValidationError('until', 'until must be later than since.');
  }
  // Bucket starts from since's bucket to the bucket holding the last instant before until.
  const count =
    Math.floor((until.getTime() - 1) / bucket.ms) - Math.floor(since.getTime() / bucket.ms) + 1;
  if (count > maxBuckets) {
    throw new ValidationError(
      'until',
      `The range from since to until spans ${count} ${args.bucket} buckets; at most ` +
        `${maxBuckets} are allowed: narrow the range or use a wider bucket.`,
    );
  }
  const rows = await query<StatusBucket>(em, statusAggregationSql, [
    since,
    until,
    bucket.unit,
    `1 ${bucket.unit}`,
  ]);
  return rows.map((row) => ({ ...row, bucketStart: new Date(row.bucketStart) }));
}
