import { TaskInstanceStatus } from './task-instance-status.js';

/** The instants of a run's audit changes, by field, with their columns. */
const runAuditInstants = { scheduledAt: 'scheduled_at', dispatchDeadline: 'dispatch_deadline' };

/** `[REDACTED sha256:…]` of a text value, as `fingerprint` in task-spec.audit.ts makes it. */
function fingerprintSql(value: string): string {
  return `'[REDACTED sha256:' || left(encode(sha256(convert_to(${value}, 'UTF8')), 'hex'), 12) || ']'`;
}

/** A name → value JSON object with every value fingerprinted (`fingerprinted` in TypeScript). */
function fingerprintedSql(map: string): string {
  return `(select coalesce(jsonb_object_agg(f.key, ${fingerprintSql('f.value')}), '{}'::jsonb)
             from jsonb_each_text(${map}) as f)`;
}

/**
 * The audit `changes` of a run just created, in SQL, from its row `i`: what
 * `diff(null, taskInstanceSnapshot(run))` makes in TypeScript (each field that is not null, as
 * `{ before: null, after }`; secrets fingerprinted; instants as ISO strings with milliseconds).
 * For `runTask`, whose run and audit entry are then written by one statement. A test compares
 * the two on a run with every kind of field.
 */
export function newRunAuditChangesSql(i: string): string {
  const http = `${i}.http_request`;
  return `(select jsonb_object_agg(s.key, jsonb_build_object('before', null, 'after', s.value))
     from jsonb_each(jsonb_build_object(
       'taskId', ${i}.task_id, 'taskName', ${i}.task_name, 'kind', ${i}.kind,
       'command', ${i}.command, 'env', ${fingerprintedSql(`${i}.env`)},
       'workingDirectory', ${i}.working_directory,
       'httpRequest', case when ${http} is null or ${http} = 'null'::jsonb then null else jsonb_build_object(
         'method', ${http}->'method', 'url', ${http}->'url',
         'headers', ${fingerprintedSql(`${http}->'headers'`)},
         'body', case when ${http}->>'body' is null then null else to_jsonb(${fingerprintSql(`${http}->>'body'`)}) end,
         'expectedStatusCodes', ${http}->'expectedStatusCodes') end,
       'expectedExitCode', ${i}.expected_exit_code, 'expectedOutput', ${i}.expected_output,
       'cronExpression', ${i}.cron_expression, 'timeZone', ${i}.time_zone,
       'timeoutSeconds', ${i}.timeout_seconds, 'retryTimes', ${i}.retry_times,
       'retryIntervalSeconds', ${i}.retry_interval_seconds, 'retryBackoff', ${i}.retry_backoff,
       'retryMaxIntervalSeconds', ${i}.retry_max_interval_seconds,
       'maxParallelRuns', ${i}.max_parallel_runs, 'priority', ${i}.priority, 'tag', ${i}.tag,
       'trigger', ${i}.trigger,
       ${perRunMembers(i)
         .map(([name, value]) => `'${name}', ${value}`)
         .join(', ')},
       'statusReason', ${i}.status_reason, 'attempt', ${i}.attempt,
       'retryCount', ${i}.retry_count, 'exitCode', ${i}.exit_code)) as s
    where s.value <> 'null'::jsonb)`;
}

/**
 * The fields of `newRunAuditChangesSql` that two runs of an unchanged task do not share: its
 * instants, and where it went (a run placed as it is created is DISPATCHED to an executor).
 */
export const runAuditPerRunFields = ['scheduledAt', 'dispatchDeadline', 'status', 'executorId'];

/** `newRunAuditChangesSql` limited to `runAuditPerRunFields` (those not null), as jsonb. */
export function newRunPerRunChangesSql(i: string): string {
  const members = perRunMembers(i).map(
    ([name, value]) =>
      `case when ${value} is null then '{}'::jsonb
            else jsonb_build_object('${name}', jsonb_build_object('before', null, 'after', ${value})) end`,
  );
  return `(${members.join(' || ')})`;
}

/**
 * The members of `runAuditPerRunFields` from row `i`, as SQL: each instant as an ISO string
 * with milliseconds, as a Date's JSON is; the status by name.
 */
function perRunMembers(i: string): [name: string, value: string][] {
  const instants = Object.entries(runAuditInstants).map(([name, column]): [string, string] => [
    name,
    `to_char(${i}.${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`,
  ]);
  const statusNames = Object.entries(TaskInstanceStatus)
    .filter(([, code]) => typeof code === 'number')
    .map(([name, code]) => `when ${code} then '${name}'`)
    .join(' ');
  return [
    ...instants,
    ['status', `case ${i}.status ${statusNames} end`],
    ['executorId', `${i}.executor_id`],
  ];
}
