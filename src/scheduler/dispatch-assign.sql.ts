import { keptProbePlan } from '../database/kept-probe-plan.sql.js';
import { TaskInstanceStatus } from '../task-instances/task-instance-status.js';

const { DISPATCHED } = TaskInstanceStatus;

/** The function that makes a pass's chosen runs DISPATCHED (see below). */
export const assignFunction = 'pg_temp.graphcron_dispatch_assign';

/**
 * Makes the chosen runs (`p_ids`) DISPATCHED to their executors (`p_executor_ids`, whose rows
 * the pass holds locked) and returns them as they now are. `dispatched_at` is the moment of the
 * assignment, not the pass's start (`now()`), which comes before the waits for its locks: a slot
 * freed meanwhile and taken by this pass looked held twice at once.
 *
 * A temporary function, created with the claim function by each session of the dispatcher, so
 * that its plan is made once and kept: sent as a statement with the ids written in, it was
 * planned at every pass (0.4 ms of 2.4, pg_stat_statements at 500 runTask calls a second). Its
 * one plan is a probe of the primary key per run (keptProbePlan).
 */
export const assignFunctionSql = `
create function ${assignFunction}(p_ids bigint[], p_executor_ids int[])
returns setof task_instances
language plpgsql volatile ${keptProbePlan}
as $function$
begin
  return query
    with assigned as (
      update task_instances t
         set status = ${DISPATCHED}, executor_id = a.executor_id, executor_name = e.name,
             executor_host = e.host, dispatched_at = clock_timestamp(), acknowledged_at = null,
             updated_at = now()
        from unnest(p_ids, p_executor_ids) as a(id, executor_id)
        join executors e on e.id = a.executor_id
       where t.id = a.id
   returning t.*)
    select * from assigned;
end
$function$;`;
