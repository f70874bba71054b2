import { TaskInstanceStatus } from '../task-instances/task-instance-status.js';
import { RoutingStrategy } from '../tasks/routing-strategy.js';

const { SCHEDULED, DISPATCHED, RUNNING } = TaskInstanceStatus;
const BROADCAST = `'${RoutingStrategy.BROADCAST}'`;

/** The function the dispatcher calls, created in each of its sessions (see below). */
export const claimFunction = 'pg_temp.graphcron_dispatch_claim';

/**
 * The loads a claim is decided on, as CTEs: runs in flight, per task; the online executors with
 * room; the slots this pass can still fill (`v_slots_taken`: taken by its earlier statement), or
 * null when any task is BROADCAST (its runs not yet fanned out need no slot). Read without
 * locks: a pre-filter; the exact counts are taken under the locks.
 */
const loadsSql = `
  -- Ordered: the planner then reads the runs in flight with a plain index scan, which marks the
  -- entries of runs that ended as dead as it meets them, not with a bitmap scan that re-read
  -- ~3,000 of them per pass under a burst (auto_explain).
  active as materialized (
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
  room_left as materialized (
    select case when exists (select 1 from tasks where routing_strategy = ${BROADCAST}) then null
                else greatest(coalesce(sum(room), 0) - v_slots_taken, 0) end as slots
      from executor_room)`;

/**
 * Which of `groups` (a CTE of queue groups: a task and, for BROADCAST runs fanned out, their
 * executor) may be dispatched now, as the CTE `dispatchable_groups`, with each task's routing
 * and limit. A fanned-out run waits for its own executor to have room; a BROADCAST run not yet
 * fanned out needs only an online executor; any other run needs its task under maxParallelRuns
 * and an online executor with room among its bindings.
 */
function dispatchableGroupsSql(groups: string): string {
  return `
  -- Per group, not per run (a window is often many runs of few tasks), and its task read by its
  -- key in a loop: joined by hash, the whole tasks table was read per window.
  group_tasks as materialized (
    select g.task_id, g.broadcast_executor_id, t.routing_strategy, t.max_parallel_runs
      from ${groups} g
     cross join lateral (
       select routing_strategy, max_parallel_runs from tasks where id = g.task_id offset 0) t),
  -- The bindings to executors online (BROADCAST runs not yet fanned out) and to those with room:
  -- a handful of rows, looked up per task below with one index probe of its bindings.
  reachable_bindings as materialized (
    select eb.id from executor_bindings eb
      join executors e on e.id = eb.executor_id
     where e.is_enabled and e.is_online),
  room_bindings as materialized (
    select eb.id from executor_bindings eb join executor_room r on r.id = eb.executor_id),
  dispatchable_groups as materialized (
    select gt.task_id, gt.broadcast_executor_id, gt.routing_strategy, gt.max_parallel_runs
      from group_tasks gt
      left join task_load tl on tl.task_id = gt.task_id
     where case
             when gt.broadcast_executor_id <> 0
               then gt.broadcast_executor_id in (select id from executor_room)
             when gt.routing_strategy = ${BROADCAST}
               then exists (select 1 from task_bindings tb
                             where tb.task_id = gt.task_id
                               and tb.binding_id = any (array(select id from reachable_bindings)))
             else coalesce(tl.active, 0) < gt.max_parallel_runs
                  and exists (select 1 from task_bindings tb
                               where tb.task_id = gt.task_id
                                 and tb.binding_id = any (array(select id from room_bindings)))
           end)`;
}

/**
 * Claims (locks) the runs whose row ids the CTE `candidates` holds (`row_id`), as the CTE
 * `claimed_runs`: at most `v_claim_limit` and the slots left, first in queue order. Locked by
 * their row ids (a TID scan): a run changed since it was read is looked at as it now is: still
 * waiting and due, or left alone. `status + 0`: the status test must not match the queue's
 * partial indexes, or a plan made from stale statistics reads the whole queue through one and
 * compares every row with every row id (~140 ms).
 */
function claimSql(candidates: string): string {
  return `
  claimed as materialized (
    select i.id, i.priority, i.task_id, i.broadcast_executor_id
      from task_instances i
     where i.ctid = any (array(select row_id from ${candidates}))
       and i.status + 0 = ${SCHEDULED} and (i.available_at is null or i.available_at <= now())
     order by i.priority desc, i.id
       for update of i skip locked
     limit least(v_claim_limit, coalesce((select slots from room_left), v_claim_limit))),
  claimed_runs as (
    select c.id, c.priority, c.task_id, c.broadcast_executor_id, g.routing_strategy,
           g.max_parallel_runs
      from claimed c
      join dispatchable_groups g
        on g.task_id = c.task_id and g.broadcast_executor_id = c.broadcast_executor_id)`;
}

/** The claimed runs as arrays, in queue order, and their count: the columns of both statements. */
const claimedRunsColumnsSql = `
  coalesce((select array_agg(id order by priority desc, id) from claimed_runs), '{}') as ids,
  coalesce((select array_agg(task_id order by priority desc, id) from claimed_runs), '{}')
    as task_ids,
  coalesce((select array_agg(broadcast_executor_id order by priority desc, id)
              from claimed_runs), '{}') as broadcast_executor_ids,
  coalesce((select array_agg(routing_strategy order by priority desc, id)
              from claimed_runs), '{}') as routing_strategies,
  coalesce((select array_agg(max_parallel_runs order by priority desc, id)
              from claimed_runs), '{}') as max_parallel_runs,
  (select count(*)::int from claimed_runs) as claimed_count`;

/**
 * The head of the queue, the claim function's first statement (its variables): claims up to
 * `v_claim_limit` waiting runs that can be dispatched now among the first in queue order, a
 * window twice the slots left (at least 64, at most `p_window`). Returns one row: the claimed
 * runs, how many runs it read, where the window ended, and when the next run held back by a
 * retry delay comes due (ms).
 *
 * Runs that cannot be dispatched now are not claimed: their task is at maxParallelRuns, or no
 * online executor they may go to has room. Otherwise a long queue of them (more than a batch)
 * fills every batch at the head of the order, and the runs behind it starve: an e2e test saw a
 * run of an idle task wait forever behind 205 queued runs of a task with maxParallelRuns 1, and
 * behind 205 runs bound to a full executor. What the window leaves, the next statement finds.
 *
 * The queue is read in its index order, so a pass costs the same whether 200 or 100,000 runs wait
 * (sorting the whole queue took ~150 ms at 20,000 and serialised dispatch). A pass claims no more
 * runs than the online executors have free slots, and reads a window sized to them: under a deep
 * queue a pass locked a whole batch of 1,000 runs to dispatch the ~50 that had room, and its claim
 * took ~30 ms instead of ~12 (no-op throughput bench).
 *
 * Static SQL in the function: parsed once per session, its plan kept by PL/pgSQL's plan cache
 * (a generic plan, made at the first call and again after an ANALYZE). It was EXECUTEd, parsed and planned at every window: parsing and planning were
 * ~40% of the dispatcher backend's CPU (perf). A kept plan is made from the statistics of its
 * time, which lag a burst (the table looks empty while 20,000 runs wait), so the statement
 * leaves the planner no join of task_instances to get wrong: the window is one index scan, what
 * may go is decided on the window's copy, and the claim locks rows by their row ids. Joined on
 * the id, kept plans read a window's runs through the task's unfinished runs, or looked each up
 * by scanning the whole window (~20 ms claims, auto_explain).
 */
const claimHeadSql = `
  with ${loadsSql},
  window_size as materialized (
    select least(p_window, coalesce(greatest(2 * slots, 64), p_window))::int as size
      from room_left),
  queue_window as materialized (
    select id, priority, task_id, broadcast_executor_id, ctid as row_id from task_instances
     -- the queue's index (task_instances_dispatch_queue) is for queries that say both
     where status = ${SCHEDULED} and broadcast_executor_id >= 0
       -- evaluated once, first: with no executor room and no BROADCAST task (whose runs not
       -- yet fanned out need no room), the queue is not read at all
       and (exists (select 1 from executor_room)
            or exists (select 1 from tasks where routing_strategy = ${BROADCAST}))
     order by priority desc, id
     limit (select size from window_size)),
  window_groups as materialized (
    select distinct task_id, broadcast_executor_id from queue_window),
  ${dispatchableGroupsSql('window_groups')},
  -- From the window's copy (no locks, no task_instances): joined to task_instances, a plan made
  -- while the table looked empty walked the queue's index and looked each run up by scanning
  -- the window whole (195 x 98 rows compared in a ~20 ms claim, auto_explain).
  eligible as materialized (
    select q.row_id
      from queue_window q
     where (q.task_id, q.broadcast_executor_id)
           in (select task_id, broadcast_executor_id from dispatchable_groups)),
  ${claimSql('eligible')},
  window_end as (select priority, id from queue_window order by priority, id desc limit 1)
  select ${claimedRunsColumnsSql},
         count(*)::int as scanned,
         (select slots from room_left) as slots,
         (select size from window_size) as window_size,
         (select priority from window_end) as last_priority,
         (select id from window_end) as last_id,
         -- the next run held back by a retry delay (the dispatcher's due timer); ordered, not
         -- min(): only the delayed runs' index gives the order (see enable_sort below)
         (select extract(epoch from available_at - clock_timestamp()) * 1000
            from task_instances
           where status = ${SCHEDULED} and available_at > now()
           order by available_at
           limit 1) as next_due_ms
    from queue_window`;

/**
 * The rest of the queue, after the head's window (`v_after_priority`, `v_after_id`), read per
 * queue group (a task, or a BROADCAST task's runs fanned out to one executor): the claim
 * function's second statement, when the window held more waiting runs than it could claim.
 * The groups are found by a skip scan of the queue's per-task index, one probe each; those that
 * cannot be dispatched now cost that probe alone, and each of the others gives its first
 * `v_claim_limit` runs after the window, of which the first in queue order are claimed.
 *
 * Reading on window after window instead, a pass read every run of a deep queue that could not
 * be dispatched (10,000 runs bound to an offline executor: 7 windows, ~51 ms a pass, at every
 * runTask and every finish report) before it reached the runs that could go.
 */
const claimRestSql = `
  with recursive ${loadsSql},
  queue_groups as (
    (select task_id, broadcast_executor_id from task_instances
      where status = ${SCHEDULED} and task_id is not null
      order by task_id, broadcast_executor_id
      limit 1)
    union all
    select n.task_id, n.broadcast_executor_id
      from queue_groups g
     cross join lateral (
       select i.task_id, i.broadcast_executor_id from task_instances i
        where i.status = ${SCHEDULED}
          and (i.task_id, i.broadcast_executor_id) > (g.task_id, g.broadcast_executor_id)
        order by i.task_id, i.broadcast_executor_id
        limit 1) n),
  ${dispatchableGroupsSql('queue_groups')},
  heads as materialized (
    select h.row_id
      from dispatchable_groups g
     cross join lateral (
       select i.ctid as row_id from task_instances i
        where i.status = ${SCHEDULED}
          and i.task_id = g.task_id and i.broadcast_executor_id = g.broadcast_executor_id
          and i.priority <= v_after_priority
          and (i.priority < v_after_priority or i.id > v_after_id)
          and (i.available_at is null or i.available_at <= now())
        -- through the per-task index: the queue's own needs \`broadcast_executor_id >= 0\`
        order by i.priority desc, i.id
        limit least(v_claim_limit, coalesce((select slots from room_left), v_claim_limit))) h),
  ${claimSql('heads')}
  select ${claimedRunsColumnsSql}`;

/**
 * A dispatch pass's reads in one round trip, inside the caller's transaction: claims up to
 * `p_batch` waiting runs, and no more than the executors' free slots (from a window of at most
 * `p_window` at the head of the queue, then from the heads of its groups), takes the locks, and
 * reads the exact loads under them. Returns rows of
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
--   id, comparing every row with every id (~160 ms a window at 10,000 runs, auto_explain);
-- - no sorts where an index gives the order: with statistics from a time when no run waited,
--   the planner expects one waiting run, and reading "all" of them by the (status) index and
--   sorting looks as cheap as the queue's index. Then a pass read the whole queue for each of
--   its groups (10,000 runs waiting: ~350 ms a pass with auto_explain on; 95 ms when it read
--   window after window; 2 ms with this). A disabled plan node loses to any plan with fewer,
--   whatever the costs; where no index gives the order, the sort stays.
-- And those plans are kept: left to choose, the plan cache made a custom plan at every call for
-- one statement or another (in one run the head's, in another the candidates': ~1 ms of
-- planning a pass, pg_stat_statements at 500 runTask calls a second).
set plan_cache_mode = force_generic_plan
set enable_nestloop = off
set enable_seqscan = off
set enable_sort = off
set enable_incremental_sort = off
as $function$
#variable_conflict use_column
declare
  v_ids bigint[] := '{}';
  v_task_ids int[] := '{}';
  v_broadcast_executor_ids int[] := '{}';
  v_routing_strategies text[] := '{}';
  v_max_parallel_runs int[] := '{}';
  v_next_due_ms float8;
  v_head record;
  v_rest record;
  v_after_priority int;
  v_after_id bigint;
  v_locked_task_ids int[];
  v_slots_taken int := 0;
  v_claim_limit int;
  v_task_id int;
begin
  v_claim_limit := p_batch;
  ${claimHeadSql}
    into v_head;
  v_next_due_ms := v_head.next_due_ms;
  v_ids := v_head.ids;
  v_task_ids := v_head.task_ids;
  v_broadcast_executor_ids := v_head.broadcast_executor_ids;
  v_routing_strategies := v_head.routing_strategies;
  v_max_parallel_runs := v_head.max_parallel_runs;
  -- Read the rest of the queue only if the window was full and claims are still wanted.
  if v_head.scanned = v_head.window_size and v_head.last_id is not null
     and cardinality(v_ids) < p_batch
     and coalesce(v_head.slots > v_head.claimed_count, true) then
    v_slots_taken := v_head.claimed_count;
    v_claim_limit := p_batch - cardinality(v_ids);
    v_after_priority := v_head.last_priority;
    v_after_id := v_head.last_id;
    ${claimRestSql}
      into v_rest;
    v_ids := v_ids || v_rest.ids;
    v_task_ids := v_task_ids || v_rest.task_ids;
    v_broadcast_executor_ids := v_broadcast_executor_ids || v_rest.broadcast_executor_ids;
    v_routing_strategies := v_routing_strategies || v_rest.routing_strategies;
    v_max_parallel_runs := v_max_parallel_runs || v_rest.max_parallel_runs;
  end if;

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
