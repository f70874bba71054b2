import { keptProbePlan } from '../database/kept-probe-plan.sql.js';
import { TaskInstanceStatus } from '../task-instances/task-instance-status.js';
import { reportedAttempt } from './reported-attempt.sql.js';

const { DISPATCHED, RUNNING, SCHEDULED, UNKNOWN } = TaskInstanceStatus;

/** The session functions the report statements call (see `reportFunctionsSql`). */
export const startRunsFunction = 'pg_temp.graphcron_start_runs';
export const finishRunsFunction = 'pg_temp.graphcron_finish_runs';

/**
 * Started reports: RUNNING with the executor's start time, for this executor's DISPATCHED
 * attempts. Returns the runs it changed.
 */
const startRunsSql = `
create function ${startRunsFunction}(
  p_ids bigint[], p_attempts int[], p_started_at timestamptz[], p_executor_id int)
returns table (id text, attempt int)
language plpgsql volatile ${keptProbePlan}
as $function$
#variable_conflict use_column
begin
  return query
    with changed as (
      update task_instances t
         set status = ${RUNNING}, started_at = r.started_at,
             acknowledged_at = coalesce(t.acknowledged_at, now()), updated_at = now()
        from unnest(p_ids, p_attempts, p_started_at) as r(id, attempt, started_at)
       where ${reportedAttempt('p_executor_id', [DISPATCHED])}
   returning t.id, t.attempt)
    select c.id::text, c.attempt from changed c;
end
$function$;`;

/**
 * Finished reports: the outcome, for this executor's attempts in flight (or UNKNOWN: the
 * server lost track of the attempt, but its executor knows how it ended). `p_started_at` is
 * the start of a run whose started report came in the same batch (null otherwise). Returns the
 * runs it changed and whether a run waits for a slot.
 */
const finishRunsSql = `
create function ${finishRunsFunction}(
  p_ids bigint[], p_attempts int[], p_statuses int[], p_exit_codes int[],
  p_finished_at timestamptz[], p_duration_ms int[], p_results text[], p_status_reasons text[],
  p_executor_id int, p_started_at timestamptz[])
returns table (id text, attempt int, is_any_waiting boolean)
language plpgsql volatile ${keptProbePlan}
as $function$
#variable_conflict use_column
begin
  return query
    with changed as (
      update task_instances t
         set status = r.status, exit_code = r.exit_code, finished_at = r.finished_at,
             duration_ms = r.duration_ms, result = r.result, status_reason = r.status_reason,
             started_at = coalesce(t.started_at, r.started_at, r.finished_at),
             acknowledged_at = coalesce(t.acknowledged_at, now()), updated_at = now()
        from unnest(p_ids, p_attempts, p_statuses, p_exit_codes, p_finished_at, p_duration_ms,
                    p_results, p_status_reasons, p_started_at)
             as r(id, attempt, status, exit_code, finished_at, duration_ms, result, status_reason,
                  started_at)
       where ${reportedAttempt('p_executor_id', [DISPATCHED, RUNNING, UNKNOWN])}
   returning t.id, t.attempt)
    -- A slot came free: the dispatchers are told only if a run waits for one (else every
    -- finish cost each of them an empty pass: a transaction and two lookups). The first in
    -- queue order, through the queue's index: the heap's first rows are long finished. Not
    -- EXISTS, which drops ORDER BY and LIMIT: planned as a scan of the heap, it read ~7,000
    -- finished rows per report batch in the no-op throughput bench.
    select c.id::text, c.attempt,
           (select true from task_instances w
             where w.status = ${SCHEDULED} and w.broadcast_executor_id >= 0
             order by w.priority desc, w.id limit 1) is not null
      from changed c;
end
$function$;`;

/**
 * Created in every session of the server's connection pool (temporary functions: their text
 * lives here with the code that calls them, and replicas of different versions never share
 * one). A function's statements keep their plans for the session.
 */
export const reportFunctionsSql = `${startRunsSql}\n${finishRunsSql}`;
