import type { TaskInstanceStatus } from '../task-instances/task-instance-status.js';
import type { TaskInstanceTrigger } from '../task-instances/task-instance-trigger.js';
import type { TaskKind } from '../tasks/task-kind.js';
import type { EnvironmentMap, HttpRequestSpec } from '../tasks/task-spec.js';

/**
 * A run as its executor is told about it (an assignment, or its cancellation): what the
 * executors' streams read, and what the dispatcher hands them once it has assigned runs.
 */
export interface PendingRow {
  id: string;
  attempt: number;
  task_id: number | null;
  task_name: string;
  kind: TaskKind;
  command: string;
  env: EnvironmentMap;
  working_directory: string | null;
  http_request: HttpRequestSpec | null;
  timeout_seconds: number;
  expected_exit_code: number;
  expected_output: string | null;
  dispatched_at: Date;
  trigger: TaskInstanceTrigger;
  scheduled_at: Date | null;
  status: TaskInstanceStatus;
  cancel_requested_at: Date | null;
}

/** A PendingRow with the executor it is for. */
export type AddressedRow = PendingRow & { executor_id: number };

/** The columns of an AddressedRow, as selected from `task_instances`. */
export const pendingColumns = `id::text as id, attempt, task_id, task_name, kind, command, env,
  working_directory, http_request, timeout_seconds, expected_exit_code, expected_output,
  dispatched_at, trigger, scheduled_at, status, cancel_requested_at, executor_id`;

/** The rows of each executor, in their order. */
export function byExecutor(rows: readonly AddressedRow[]): Map<number, PendingRow[]> {
  const grouped = new Map<number, PendingRow[]>();
  for (const row of rows) {
    const list = grouped.get(row.executor_id);
    if (list) list.push(row);
    else grouped.set(row.executor_id, [row]);
  }
  return grouped;
}
