import { keptProbePlan } from '../database/kept-probe-plan.sql.js';
import { TaskInstanceStatus } from '../task-instances/task-instance-status.js';
import { RoutingStrategy } from '../tasks/routing-strategy.js';
import { pickExecutorFunction } from './pick-executor.sql.js';

const { SCHEDULED, DISPATCHED, RUNNING } = TaskInstanceStatus;

/** The session function that places a new run on an executor (see below). */
export const placeNewRunFunction = 'pg_temp.graphcron_place_new_run';

/** Runs in flight on executor `e` (as the dispatcher counts them). */
const executorLoadSql = `(select count(*)::int from task_instances a
                   where a.executor_id = e.id and a.status in (${DISPATCHED}, ${RUNNING}))`;

/** Locks the chosen executor (`v_chosen`) if it may still take work; `found` says whether. */
const lockChosenSql = `perform 1 from executors e
        where e.id = v_chosen and e.is_enabled and e.is_online for update`;

/** The chosen executor (`v_chosen`, locked), if it has room now: the function's row. */
const roomLeftSql = `
        select e.id, e.name, e.host from executors e
         where e.id = v_chosen and ${executorLoadSql} < e.capacity`;

/**
 * Chooses the executor of a run the calling statement is about to create, so that it is
 * created DISPATCHED instead of waiting for a dispatch pass: at 500 `runTask` calls a second,
 * the pass (a NOTIFY, two round trips on the dispatcher's connection, each waiting its turn in
 * a busy event loop) was most of the time from the call to the run's start. Returns the
 * executor (id, name, host), or no row: then the run is created SCHEDULED and the dispatcher
 * places it, as before.
 *
 * A run is placed here only when nothing waits ahead of it (no due SCHEDULED run at all), so
 * that it takes no slot the queue's order gives to another run. BROADCAST runs are fanned out
 * by the dispatcher.
 *
 * Counted as exactly as the dispatcher counts, and with its locks in its order: the task's
 * advisory lock, then an executor's row. The candidates' loads are read without locks to
 * choose, then only the chosen executor is locked and counted again: locking every executor of
 * the task would serialise all `runTask` calls of tasks bound to the same executors. When the
 * chosen one has filled up meanwhile, the run waits for the dispatcher (LEAST_LOADED tries the
 * next least loaded). Each count is its own statement, after the lock it needs: a function's
 * statements take a new snapshot each.
 *
 * The caller holds the task's row lock (taken before this, as every `runTask` does): the
 * dispatcher never waits for a task row while it holds advisory or executor locks, except to
 * fan out a BROADCAST run, whose task is never placed here.
 */
export const placeNewRunFunctionSql = `
create function ${placeNewRunFunction}(
  p_task_id int, p_routing_strategy text, p_max_parallel_runs int, p_turn int, p_random float8)
returns table (executor_id int, executor_name varchar, executor_host varchar)
language plpgsql volatile ${keptProbePlan}
as $function$
#variable_conflict use_column
declare
  v_binding_ids int[];
  v_executor_ids int[];
  v_weights int[];
  v_active int[];
  v_capacities int[];
  v_chosen int;
  v_chosen_load int;
  v_first int;
  v_is_holding boolean := false;
  v_held_by_others_load int;
begin
  if p_routing_strategy = '${RoutingStrategy.BROADCAST}' then
    return;
  end if;
  -- through the queue's index, as the dispatcher reads it; delayed retries are skipped there
  if exists (select 1 from task_instances
              where status = ${SCHEDULED} and broadcast_executor_id >= 0
                and (available_at is null or available_at <= now())) then
    return;
  end if;
  perform pg_advisory_xact_lock(1, p_task_id);
  if (select count(*) from task_instances
       where task_id = p_task_id and status in (${DISPATCHED}, ${RUNNING}))
     >= p_max_parallel_runs then
    return;
  end if;
  select array_agg(c.binding_id), array_agg(c.executor_id), array_agg(c.weight),
         array_agg(c.active), array_agg(c.capacity)
    into v_binding_ids, v_executor_ids, v_weights, v_active, v_capacities
    from (select eb.id as binding_id, e.id as executor_id, eb.weight, e.capacity,
                 ${executorLoadSql} as active
            from task_bindings tb
            join executor_bindings eb on eb.id = tb.binding_id
            join executors e on e.id = eb.executor_id
           where tb.task_id = p_task_id and e.is_enabled and e.is_online) c;
  loop
    v_chosen := ${pickExecutorFunction}(p_routing_strategy, v_binding_ids, v_executor_ids,
                                        v_weights, v_active, v_capacities, p_turn, p_random);
    exit when v_chosen is null;
    v_first := coalesce(v_first, v_chosen);
    -- LEAST_LOADED does not wait for an executor another caller holds (another runTask giving
    -- it a run, whose load is about to grow; a dispatch pass; heartbeats): with every executor
    -- idle, all callers chose the first and queued on its lock (runTask p99 120 ms at 500 calls
    -- a second). It moves on to another executor as loaded, never to a busier one: the
    -- heartbeat flush holds every executor for a moment each second, and a run that went to
    -- the next least loaded then gave 12 runs over four executors as 3/4/3/2. The other
    -- strategies' choice is kept.
    if p_routing_strategy = '${RoutingStrategy.LEAST_LOADED}' then
      -- its load; and to the next pick it is full (held by others, or found full below)
      for i in 1 .. cardinality(v_executor_ids) loop
        if v_executor_ids[i] = v_chosen then
          v_chosen_load := v_active[i];
          v_active[i] := v_capacities[i];
        end if;
      end loop;
      exit when v_chosen_load > v_held_by_others_load;
      ${lockChosenSql} skip locked;
    else
      ${lockChosenSql};
    end if;
    if found then
      return query ${roomLeftSql};
      if found then
        return;
      end if;
      v_is_holding := true;
    elsif p_routing_strategy = '${RoutingStrategy.LEAST_LOADED}' then
      v_held_by_others_load := coalesce(v_held_by_others_load, v_chosen_load);
    end if;
    if p_routing_strategy <> '${RoutingStrategy.LEAST_LOADED}' then
      return;
    end if;
  end loop;
  -- LEAST_LOADED, every least loaded executor with room held by others for a moment (a
  -- dispatch pass holds them all): waits for the first choice rather than leave the run to the
  -- dispatcher, whose queue it would then join, and every call after it until the queue is
  -- empty (bursts of ~100 runs each 60-110 ms late). Not while holding an executor itself: the
  -- dispatcher takes them in id order while it waits, and waiting could deadlock.
  if v_first is null or v_is_holding then
    return;
  end if;
  v_chosen := v_first;
  ${lockChosenSql};
  if found then
    return query ${roomLeftSql};
  end if;
end
$function$;`;
