/**
 * A new run is a snapshot of its task: later edits of the task do not reach it. Every creator
 * of runs (runTask, the cron ticker) inserts it in SQL from the task row `t` with these
 * columns and values, so the snapshot is written in one place.
 */
export const taskSnapshotColumns = [
  'task_id',
  'task_name',
  'kind',
  'command',
  'env',
  'working_directory',
  'http_request',
  'expected_exit_code',
  'expected_output',
  'cron_expression',
  'time_zone',
  'timeout_seconds',
  'retry_times',
  'retry_interval_seconds',
  'retry_backoff',
  'retry_max_interval_seconds',
  'max_parallel_runs',
  'priority',
  'tag',
].join(', ');

/**
 * Values for `taskSnapshotColumns` from the task row `t`. A manual run may replace the command
 * and the environment (its overrides): pass SQL expressions for them.
 */
export function taskSnapshotValues(replace: { command?: string; env?: string } = {}): string {
  return [
    't.id',
    't.name',
    't.kind',
    replace.command ?? 't.command',
    replace.env ?? 't.env',
    't.working_directory',
    't.http_request',
    't.expected_exit_code',
    't.expected_output',
    't.cron_expression',
    't.time_zone',
    't.timeout_seconds',
    't.retry_times',
    't.retry_interval_seconds',
    't.retry_backoff',
    't.retry_max_interval_seconds',
    't.max_parallel_runs',
    't.priority',
    't.tag',
  ].join(', ');
}

/** The `dispatch_deadline` of a run that waits for an executor from `since` (SQL). */
export function dispatchDeadlineSql(since: string): string {
  return `case when t.max_wait_seconds is null then null
               else ${since} + make_interval(secs => t.max_wait_seconds) end`;
}
