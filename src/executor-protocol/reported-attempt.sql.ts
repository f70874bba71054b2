import type { TaskInstanceStatus } from '../task-instances/task-instance-status.js';

/**
 * The row of `task_instances t` that a report row `r` may change: the attempt it names, if it
 * is this executor's (`executorParam`) and, when `statuses` are given, in one of them.
 *
 * Found by its key alone: the executor and status tests are written as a filter the planner
 * cannot turn into an index condition (a CASE). Given them as plain conditions, a plan made
 * from statistics that lag a burst (an executor seemingly with one run in flight) walked the
 * executor's runs and, for each, read the whole report list again: 255 x 255 rows, ~220 ms for
 * one report batch (thundering-herd bench, auto_explain). By key it is one index probe a report.
 */
export function reportedAttempt(
  executorParam: string,
  statuses: readonly TaskInstanceStatus[] = [],
): string {
  const statusTest = statuses.length > 0 ? ` and t.status in (${statuses.join(', ')})` : '';
  return `t.id = r.id and t.attempt = r.attempt
          and case when t.executor_id = ${executorParam}${statusTest} then true end`;
}
