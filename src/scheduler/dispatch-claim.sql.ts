import { TaskInstanceStatus } from '../task-instances/task-instance-status.js';
import { RoutingStrategy } from '../tasks/routing-strategy.js';

const { SCHEDULED, DISPATCHED, RUNNING } = TaskInstanceStatus;
const BROADCAST = `'${RoutingStrategy.BROADCAST}'`;

/** The function the dispatcher calls, created in each of its sessions (see below). */
export const claimFunction = 'pg_temp.graphcron_dispatch_claim';

/**
 * One window of the queue, a statement of the claim function below (its variables): claims
 * (locks) up to `v_claim_limit` waiting runs that can be dispatched now, among the `p_window`
 * first in queue order after the cursor (`v_after_priority`, `v_after_id`; null for the head).
 * Returns one row: the claimed runs as arrays, in queue order, where the window ended,
 * and when the next run held back by a retry delay comes due (ms).
 *
 * Runs that cannot be dispatched now are not claimed: their task is at maxParallelRuns, or no
 * online executor they may go to has room. Otherwise a long queue of them (more than a batch)
 * fills every batch at the head of the order, and the runs behind it starve: an e2e test saw a
 * run of an idle task wait forever behind 205 queued runs of a task with maxParallelRuns 1, and
 * behind 205 runs bound to a full executor. The counts here are a pre-filter taken without
 * locks; the exact ones are taken under the locks.
 *
 * The queue is read in windows of its index order, so a pass costs the same whether 200 or
 * 100,000 runs wait (sorting the whole queue took ~150 ms at 20,000 and serialised dispatch).
 *
 * A pass claims no more runs than the online executors have free slots (`v_slots_taken`: slots
 * taken by the pass's earlier windows), and reads a window sized to them: under a deep queue a pass
 * locked a whole batch of 1,000 runs to dispatch the ~50 that had room, and its claim took
 * ~30 ms instead of ~12 (no-op throughput bench). Without the cap when any task is BROADCAST:
 * its runs not yet fanned out need no slot.
 *
 * Static SQL in the function: parsed once per session, its plan kept by PL/pgSQL's plan cache
 * (custom plans for the first calls, then a generic one if that costs about the same; ANALYZE
 * drops it). It was EXECUTEd, parsed and planned at every window: parsing and planning were
 * ~40% of the dispatcher backend's CPU (perf). A kept plan is made from the statistics of its
 * time, which lag a burst (the table looks empty while 20,000 runs wait), so the statement
 * leaves the planner no join of task_instances to get wrong: the window is one index scan, what
 * may go is decided on the window's copy, and the claim locks rows by their row ids (a TID
 * scan). Joined on the id, kept plans read a window's runs through the task's unfinished runs,
 * or looked each up by scanning the whole window (~20 ms claims, auto_explain).
 */
const claimWindowSql = `
  -- Ordered: the planner then reads the runs in flight with a plain index scan, which marks the
  -- entries of runs that ended as dead as it meets them, not with a bitmap scan that re-read
  -- ~3,000 of them per pass under a burst (auto_explain).
  with active as materialized (
    select task_id, executor_id from task_instances where status in (${DISPATCHED}, ${RUNNING})
     order by executor_id, task_id),
  task_load as materialized (
    select task_id, count(*)::int as active from active group by task_id),
  executor_room as materialized (
    select id, room
      from (select e.id,
                   e.capacity - (select count(*) from active a where a.executor_id = e.id) as room
              from executors e
             where e.is_enabled and e.is_online) r
     where room > 0),
  -- Slots this pass can still fill, or null: BROADCAST runs not yet fanned out need none.
  room_left as materialized (
    select case when exists (select 1 from tasks where routing_strategy = ${BROADCAST}) then null
                else greatest(coalesce(sum(room), 0) - v_slots_taken, 0) end as slots
      from executor_room),
  -- Twice the slots left (at least 64), growing fourfold per window of the same pass
  -- (v_window_growth), at most p_window: a pass that can fill a few slots reads a few runs, not
  -- the p_window it may need to look past runs that cannot be dispatched.
  window_size as materialized (
    select least(p_window,
                 coalesce(greatest(2 * slots, 64) * v_window_growth::bigint, p_window))::int as size
      from room_left),
  queue_window as materialized (
    select id, priority, task_id, broadcast_executor_id, ctid as row_id from task_instances
     where status = ${SCHEDULED}
       and (v_after_priority is null or priority < v_after_priority
            or (priority = v_after_priority and id > v_after_id))
       -- evaluated once, first: with no executor room and no BROADCAST task (whose runs not
       -- yet fanned out need no room), the queue is not read at all
       and (exists (select 1 from executor_room)
            or exists (select 1 from tasks where routing_strategy = ${BROADCAST}))
     order by priority desc, id
     limit (select size from window_size)),
  -- Per task of the window, not per run (a window is often many runs of few tasks), and its
  -- task read by its key in a loop: joined by hash, the whole tasks table was read per window.
  window_tasks as materialized (
    select w.task_id, t.routing_strategy, t.max_parallel_runs
      from (select distinct task_id from queue_window) w
     cross join lateral (
       select routing_strategy, max_parallel_runs from tasks where id = w.task_id offset 0) t),
  -- The bindings to executors online (BROADCAST runs not yet fanned out) and to those with room:
  -- a handful of rows, looked up per task below with one index probe of its bindings.
  reachable_bindings as materialized (
    select eb.id from executor_bindings eb
      join executors e on e.id = eb.executor_id
     where e.is_enabled and e.is_online),
  room_bindings as materialized (
    select eb.id from executor_bindings eb join executor_room r on r.id = eb.executor_id),
  dispatchable_tasks as materialized (
    select wt.task_id
      from window_tasks wt
      left join task_load tl on tl.task_id = wt.task_id
     where case
             -- not yet fanned out: needs no room, only executors
             when wt.routing_strategy = ${BROADCAST}
               then exists (select 1 from task_bindings tb
                             where tb.task_id = wt.task_id
                               and tb.binding_id = any (array(select id from reachable_bindings)))
             else coalesce(tl.active, 0) < wt.max_parallel_runs
                  and exists (select 1 from task_bindings tb
                               where tb.task_id = wt.task_id
                                 and tb.binding_id = any (array(select id from room_bindings)))
           end),
  -- The window's runs that may go now, from the window's copy (no locks, no task_instances):
  -- joined to task_instances, a plan made while the table looked empty walked the queue's
  -- index and looked each run up by scanning the window whole (195 x 98 rows compared in a
  -- ~20 ms claim, auto_explain). Membership is tested in hash tables (hashed subplans, built
  -- once), whatever the planner thinks the CTEs hold.
  eligible as materialized (
    select q.row_id
      from queue_window q
     where case
             -- fanned out: waits for its own executor to have room
             when q.broadcast_executor_id <> 0
               then q.broadcast_executor_id in (select id from executor_room)
             else q.task_id in (select task_id from dispatchable_tasks)
           end),
  -- Locked by their row ids (a TID scan), in queue order. A run changed since the window was
  -- read is looked at as it now is: still waiting and due, or left alone. \`status + 0\`: the
  -- status test must not match the queue's partial index, or a plan made from stale statistics
  -- reads the whole queue through it and compares every row with every row id (~140 ms).
  claimed as materialized (
    select i.id, i.priority, i.task_id, i.broadcast_executor_id
      from task_instances i
     where i.ctid = any (array(select row_id from eligible))
       and i.status + 0 = ${SCHEDULED} and (i.available_at is null or i.available_at <= now())
     order by i.priority desc, i.id
       for update of i skip locked
     limit least(v_claim_limit, coalesce((select slots from room_left), v_claim_limit))),
  claimed_runs as (
    select c.id, c.priority, c.task_id, c.broadcast_executor_id, wt.routing_strategy,
           wt.max_parallel_runs
      from claimed c join window_tasks wt on wt.task_id = c.task_id),
  window_end as (select priority, id from queue_window order by priority, id desc limit 1)
  select coalesce((select array_agg(id order by priority desc, id) from claimed_runs), '{}')
           as ids,
         coalesce((select array_agg(task_id order by priority desc, id) from claimed_runs), '{}')
           as task_ids,
         coalesce((select array_agg(broadcast_executor_id order by priority desc, id)
                     from claimed_runs), '{}') as broadcast_executor_ids,
         coalesce((select array_agg(routing_strategy order by priority desc, id)
                     from claimed_runs), '{}') as routing_strategies,
         coalesce((select array_agg(max_parallel_runs order by priority desc, id)
                     from claimed_runs), '{}') as max_parallel_runs,
         count(*)::int as scanned,
         (select slots from room_left) as slots,
         (select count(*)::int from claimed_runs) as claimed_count,
         (select size from window_size) as window_size,
         (select priority from window_end) as last_priority,
         (select id from window_end) as last_id,
         -- the next run held back by a retry delay (the dispatcher's due timer)
         (select extract(epoch from min(available_at) - clock_timestamp()) * 1000
            from task_instances
           where status = ${SCHEDULED} and available_at > now()) as next_due_ms
    from queue_window`;

/**
 * A dispatch pass's reads in one round trip, inside the caller's transaction: claims up to
 * `p_batch` waiting runs, and no more than the executors' free slots (window after window, each
 * of at most `p_window`), takes the locks, and reads the exact loads under them. Returns rows of
 * three kinds, in this order:
 * - 'run': a claimed run (id, task_id, broadcast_executor_id, routing_strategy,
 *   max_parallel_runs), in queue order;
 * - 'candidate': an online, enabled executor bound to a claimed run's task (task_id,
 *   executor_id, binding_id, weight, capacity, name, host), with its runs (executor_active)
 *   and the task's (task_active); a task with none comes back once, with null executor fields;
 * - 'end', last and always: next_due_ms.
 *
 * Locks: per-task advisory locks (not the task row, which the cron ticker claims), then the
 * rows of the online executors bound to those tasks, both in id order (no deadlock between
 * replicas), so that two replicas never count the same task's or executor's runs at once. The
 * counts are read by a statement after the locks are held: a function's statements each take
 * a new snapshot (a count read by the locking statement itself would predate a wait for a
 * lock, and miss what the holder dispatched).
 *
 * A temporary function (pg_temp), created by each session of the dispatcher: its text lives
 * here with the code that reads its rows, and replicas of different versions never share it.
 */
export const claimFunctionSql = `
create function ${claimFunction}(p_batch int, p_window int)
returns table (
  kind text, id bigint, task_id int, broadcast_executor_id int, routing_strategy text,
  max_parallel_runs int, executor_id int, binding_id int, weight int, capacity int,
  name varchar, host varchar, executor_active int, task_active int, next_due_ms float8)
language plpgsql volatile
-- Plans made without trusting the statistics, which lag a burst (a kept plan is often made
-- while task_instances was empty):
-- - joins of CTEs by hash, not nested loops: a CTE is estimated at a row or two, and a loop that
--   scans one whole for every row of another is quadratic in the tasks of a window (10,000 tasks
--   due the same second: all started after 64.5 s; 5.1 s with this, herd bench). Lookups that
--   must loop are lateral subqueries kept apart (\`offset 0\`);
-- - no sequential scans: a plan made while the table was small read all of it to claim by row
--   id, comparing every row with every id (~160 ms a window at 10,000 runs, auto_explain).
set enable_nestloop = off
set enable_seqscan = off
as $function$
#variable_conflict use_column
declare
  v_ids bigint[] := '{}';
  v_task_ids int[] := '{}';
  v_broadcast_executor_ids int[] := '{}';
  v_routing_strategies text[] := '{}';
  v_max_parallel_runs int[] := '{}';
  v_next_due_ms float8;
  v_is_first boolean := true;
  v_window record;
  v_after_priority int;
  v_after_id bigint;
  v_locked_task_ids int[];
  v_slots_taken int := 0;
  v_window_growth int := 1;
  v_claim_limit int;
  v_task_id int;
begin
  loop
    v_claim_limit := p_batch - cardinality(v_ids);
    ${claimWindowSql}
      into v_window;
    if v_is_first then
      v_next_due_ms := v_window.next_due_ms;
      v_is_first := false;
    end if;
    v_ids := v_ids || v_window.ids;
    v_task_ids := v_task_ids || v_window.task_ids;
    v_broadcast_executor_ids := v_broadcast_executor_ids || v_window.broadcast_executor_ids;
    v_routing_strategies := v_routing_strategies || v_window.routing_strategies;
    v_max_parallel_runs := v_max_parallel_runs || v_window.max_parallel_runs;
    v_slots_taken := v_slots_taken + v_window.claimed_count;
    exit when v_window.scanned < v_window.window_size or v_window.last_id is null
      or cardinality(v_ids) >= p_batch or v_window.slots <= v_window.claimed_count;
    v_after_priority := v_window.last_priority;
    v_after_id := v_window.last_id;
    v_window_growth := least(v_window_growth * 4, 1024);
  end loop;

  if cardinality(v_ids) > 0 then
    return query
      select 'run'::text, r.id, r.task_id, r.broadcast_executor_id, r.routing_strategy,
             r.max_parallel_runs, null::int, null::int, null::int, null::int, null::varchar,
             null::varchar, null::int, null::int, null::float8
        from unnest(v_ids, v_task_ids, v_broadcast_executor_ids, v_routing_strategies,
                    v_max_parallel_runs)
             with ordinality as r(id, task_id, broadcast_executor_id, routing_strategy,
                                  max_parallel_runs, position)
       order by r.position;

    select array_agg(distinct t order by t) into v_locked_task_ids from unnest(v_task_ids) as t;
    foreach v_task_id in array v_locked_task_ids loop
      perform pg_advisory_xact_lock(1, v_task_id);
    end loop;
    perform e.id from executors e
      where e.is_enabled and e.is_online
        and e.id in (select eb.executor_id from task_bindings tb
                       join executor_bindings eb on eb.id = tb.binding_id
                      where tb.task_id = any(v_locked_task_ids))
      order by e.id
        for update of e;

    return query
      -- ordered for a plain index scan, as in the window's statement
      with active as materialized (
        select a.task_id, a.executor_id from task_instances a
         where a.status in (${DISPATCHED}, ${RUNNING})
         order by a.executor_id, a.task_id),
      by_executor as (
        select a.executor_id, count(*)::int as n from active a group by a.executor_id),
      -- joined (by hash) to the tasks, not filtered by \`= any\` (every run compared with
      -- every task: ~15 ms at a thousand of each)
      by_task as (
        select a.task_id, count(*)::int as n
          from active a join unnest(v_locked_task_ids) as l(task_id) on l.task_id = a.task_id
         group by a.task_id)
      select 'candidate'::text, null::bigint, t.id, null::int, null::text, null::int,
             c.executor_id, c.binding_id, c.weight, c.capacity, c.name, c.host,
             coalesce(be.n, 0), coalesce(bt.n, 0), null::float8
        from unnest(v_locked_task_ids) as t(id)
        left join by_task bt on bt.task_id = t.id
        left join lateral (
          select e.id as executor_id, eb.id as binding_id, eb.weight, e.capacity, e.name, e.host
            from task_bindings tb
            join executor_bindings eb on eb.id = tb.binding_id
            join executors e on e.id = eb.executor_id
           where tb.task_id = t.id and e.is_enabled and e.is_online
          -- kept a loop of index probes per task: flattened, it was joined by hash, reading
          -- every task's bindings (80,000 at 10,000 tasks, ~140 ms a pass)
          offset 0) c on true
        left join by_executor be on be.executor_id = c.executor_id;
  end if;

  return query
    select 'end'::text, null::bigint, null::int, null::int, null::text, null::int, null::int,
           null::int, null::int, null::int, null::varchar, null::varchar, null::int, null::int,
           v_next_due_ms;
end
$function$;`;
