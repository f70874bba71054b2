import type { TaskInstanceStatus } from '../task-instances/task-instance-status.js';

/**
 * Whether the run `t` is this executor's (`executorParam`), in one of `statuses` (any, if none
 * are given), and meets `alsoSql`: as a filter on a row found by its key, which the planner
 * cannot turn into an index condition (a CASE).
 *
 * Given as plain conditions, a plan made from statistics that lag a burst (an executor seemingly
 * with one run in flight) walked the executor's runs and, for each, read the whole report list
 * again: 255 x 255 rows, ~220 ms for one report batch (thundering-herd bench, auto_explain). Found
 * by its key, it is one index probe a report.
 */
export function executorRunFilter(
  executorParam: string,
  statuses: readonly TaskInstanceStatus[] = [],
  alsoSql?: string,
): string {
  const tests = [`t.executor_id = ${executorParam}`];
  if (statuses.length > 0) tests.push(`t.status in (${statuses.join(', ')})`);
  if (alsoSql) tests.push(alsoSql);
  return `case when ${tests.join(' and ')} then true end`;
}

/**
 * The row of `task_instances t` that a report row `r` may change: the attempt it names, found
 * by its key, if it is this executor's and in one of `statuses` (executorRunFilter).
 */
export function reportedAttempt(
  executorParam: string,
  statuses: readonly TaskInstanceStatus[] = [],
): string {
  return `t.id = r.id and t.attempt = r.attempt and ${executorRunFilter(executorParam, statuses)}`;
}
