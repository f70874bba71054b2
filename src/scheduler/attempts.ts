import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../database/sql.js';
import { channels } from '../pubsub/channels.js';
import { TaskInstanceStatus } from '../task-instances/task-instance-status.js';

const { SCHEDULED, DISPATCHED, ABNORMAL_ENDING, TIMEOUT_ENDING, UNKNOWN } = TaskInstanceStatus;

/** Statuses a retry may follow: a cancelled run is not retried, nor a finished one. */
export const retryableStatuses = [ABNORMAL_ENDING, TIMEOUT_ENDING, UNKNOWN] as const;

/**
 * Moves runs to a new attempt: the current attempt goes to `task_instance_attempts`, the run
 * goes back to SCHEDULED with `attempt + 1` (so any report of the old attempt is now refused),
 * available after the delay. One statement for any number of runs; call it inside the
 * transaction that ended the attempt.
 */
async function startNewAttempt(
  em: EntityManager,
  candidates: string,
  params: unknown[],
  options: { countsAsRetry: boolean; reason: string },
): Promise<string[]> {
  const rows = await query<{ id: string }>(
    em,
    `with chosen as (${candidates}),
     history as (
       insert into task_instance_attempts (instance_id, attempt, status, exit_code, executor_id,
                                           executor_name, dispatched_at, started_at, finished_at,
                                           status_reason)
       select t.id, t.attempt, t.status, t.exit_code, t.executor_id, t.executor_name,
              t.dispatched_at, t.started_at, coalesce(t.finished_at, now()),
              coalesce(t.status_reason, '${options.reason}')
         from task_instances t join chosen c on c.id = t.id
       on conflict (instance_id, attempt) do nothing),
     moved as (
       update task_instances t
          set status = ${SCHEDULED}, attempt = t.attempt + 1,
              retry_count = t.retry_count + ${options.countsAsRetry ? 1 : 0},
              available_at = now() + make_interval(secs => c.delay_seconds),
              -- The new attempt's wait for an executor starts when it becomes available. Kept
              -- as it was, the deadline of attempt 1 had often passed already, and the reaper
              -- ended the retry (held back by its retry interval) or the re-dispatch at once as
              -- ABNORMAL_ENDING "no eligible executor took the run within maxWaitSeconds", with
              -- executors online: an integration test saw both. (The task's maxWaitSeconds now;
              -- none if it was removed or the task deleted.)
              dispatch_deadline = case when t.dispatch_deadline is null then null
                else now() + make_interval(secs => c.delay_seconds)
                     + (select make_interval(secs => tk.max_wait_seconds) from tasks tk
                         where tk.id = t.task_id) end,
              executor_id = null, executor_name = null, executor_host = null, dispatched_at = null,
              acknowledged_at = null, started_at = null, finished_at = null, exit_code = null,
              result = null, duration_ms = null, status_reason = null, updated_at = now()
         from chosen c where t.id = c.id
     returning t.id)
     select id, pg_notify('${channels.instances}', id::text), pg_notify('${channels.dispatch}', '')
       from moved`,
    params,
  );
  return rows.map((row) => row.id);
}

/**
 * Retries the given runs that just ended ABNORMAL_ENDING, TIMEOUT_ENDING or UNKNOWN and have
 * retries left, after `retryIntervalSeconds` (EXPONENTIAL: doubled per retry, ±20% jitter,
 * capped after the jitter). Returns the ids retried.
 */
export function retryEndedRuns(em: EntityManager, instanceIds: string[]): Promise<string[]> {
  if (instanceIds.length === 0) return Promise.resolve([]);
  return startNewAttempt(
    em,
    `select id,
            case when retry_backoff = 'EXPONENTIAL'
                 then least(retry_max_interval_seconds,
                            retry_interval_seconds * power(2, retry_count) * (0.8 + random() * 0.4))
                 else retry_interval_seconds end::float8 as delay_seconds
       from task_instances
      where id = any($1::bigint[]) and status in (${retryableStatuses.join(', ')})
        and retry_count < retry_times
      for update`,
    [instanceIds],
    { countsAsRetry: true, reason: 'retried' },
  );
}

/**
 * Re-dispatches assignments their executor has not acknowledged within `ackTimeoutSeconds`
 * (it may never have received them): a new attempt, at once, not counted as a retry.
 */
export function redispatchUnacknowledged(
  em: EntityManager,
  ackTimeoutSeconds: number,
): Promise<string[]> {
  return startNewAttempt(
    em,
    `select id, 0::float8 as delay_seconds from task_instances
      where status = ${DISPATCHED} and acknowledged_at is null and cancel_requested_at is null
        and dispatched_at < now() - make_interval(secs => $1::int)
      for update skip locked`,
    [ackTimeoutSeconds],
    { countsAsRetry: false, reason: 'not acknowledged in time: dispatched again' },
  );
}
