import { RoutingStrategy } from '../tasks/routing-strategy.js';

/** The session function that picks an executor as `pickExecutor` does (see below). */
export const pickExecutorFunction = 'pg_temp.graphcron_pick_executor';

/**
 * `pickExecutor` (routing.ts) in PL/pgSQL, for a run placed by the statement that creates it
 * (placement.sql.ts): the candidates as parallel arrays (one element per binding), the task's
 * round-robin turn and the random number as arguments. Returns the chosen executor's id, or
 * null when none has room. Written step for step as the TypeScript is, in the same float8
 * arithmetic, so that the two choose alike: a test gives both the same candidates, turns and
 * random numbers for every strategy.
 */
export const pickExecutorFunctionSql = `
create function ${pickExecutorFunction}(
  p_strategy text, p_binding_ids int[], p_executor_ids int[], p_weights int[], p_active int[],
  p_capacities int[], p_turn int, p_random float8)
returns int
language plpgsql immutable
as $function$
declare
  -- indexes into the arrays of the candidates with room, in binding order
  v_free int[];
  v_count int;
  v_ticket float8;
  v_best int;
  v_index int;
begin
  select array_agg(i order by p_binding_ids[i]) into v_free
    from generate_subscripts(p_binding_ids, 1) as i
   where p_active[i] < p_capacities[i];
  v_count := coalesce(cardinality(v_free), 0);
  if v_count = 0 then
    return null;
  end if;
  case p_strategy
    when '${RoutingStrategy.FAILOVER}' then
      return p_executor_ids[v_free[1]];
    when '${RoutingStrategy.RANDOM}' then
      return p_executor_ids[v_free[1 + floor(p_random * v_count)::int]];
    when '${RoutingStrategy.WEIGHTED}' then
      v_ticket := 0;
      foreach v_index in array v_free loop
        v_ticket := v_ticket + p_weights[v_index];
      end loop;
      v_ticket := p_random * v_ticket;
      foreach v_index in array v_free loop
        v_ticket := v_ticket - p_weights[v_index];
        if v_ticket < 0 then
          return p_executor_ids[v_index];
        end if;
      end loop;
      return p_executor_ids[v_free[v_count]];
    when '${RoutingStrategy.ROUND_ROBIN}' then
      return p_executor_ids[v_free[1 + p_turn % v_count]];
    else
      -- LEAST_LOADED (and BROADCAST's copies): the lowest share of capacity in use, the first
      -- in binding order among equals
      v_best := v_free[1];
      foreach v_index in array v_free loop
        if p_active[v_index]::float8 / p_capacities[v_index]
           < p_active[v_best]::float8 / p_capacities[v_best] then
          v_best := v_index;
        end if;
      end loop;
      return p_executor_ids[v_best];
  end case;
end
$function$;`;
