import { entitiesFromRows } from '../database/row-entities.js';
import {
  LockMode,
  type EntityDictionary,
  type EntityManager,
  type FilterQuery,
} from '@mikro-orm/postgresql';
import { query } from '../database/sql.js';
import type { AddressedRow } from '../executor-protocol/pending-message.js';
import { channels } from '../pubsub/channels.js';
import { announceAssignments } from '../scheduler/announce-assignments.js';
import { placeNewRunFunction } from '../scheduler/placement.sql.js';
import type { RoundRobinTurns } from '../scheduler/round-robin-turns.js';
import { applyRunOverrides, type RunTaskOverrides } from './run-overrides.js';
import { diff, insertAudits, recordAudit, type Snapshot } from '../audit/audit-log.js';
import type { AuditChanges } from '../audit/audit-entry.entity.js';
import { assertOwnerOrAdmin, changeableOwners, requirePrincipal } from '../auth/auth-checker.js';
import type { Principal } from '../auth/principal.js';
import type { RequestContext } from '../server/context.js';
import { ConflictError, NotFoundError, ValidationError } from '../shared/app-error.js';
import { paginate, type Page, type PageArgs } from '../shared/pagination.js';
import type { SnowflakeGenerator } from '../shared/snowflake.js';
import { TickBatcher } from '../shared/tick-batcher.js';
import { parseBigId, parseId } from '../shared/validation.js';
import { OverlapPolicy } from '../tasks/schedule-policies.js';
import { Task } from '../tasks/task.entity.js';
import type { TaskKind } from '../tasks/task-kind.js';
import type { EnvironmentMap } from '../tasks/task-spec.js';
import { canonicalEnvironment, canonicalHttpRequest } from '../tasks/task-spec.audit.js';
import { activeStatuses, TaskInstanceStatus } from './task-instance-status.js';
import { TaskInstanceTrigger } from './task-instance-trigger.js';
import { TaskInstanceAttempt } from './task-instance-attempt.entity.js';
import { TaskInstance } from './task-instance.entity.js';
import type { TaskInstanceFilter } from './task-instance.inputs.js';
import {
  dispatchDeadlineSql,
  taskSnapshotColumns,
  taskSnapshotValues,
} from './task-snapshot.sql.js';
import { RunAuditCache } from './run-audit-cache.js';
import {
  newRunAuditChangesSql,
  newRunPerRunChangesSql,
  runAuditPerRunFields,
} from './run-audit.sql.js';

export function taskInstanceSnapshot(instance: TaskInstance): Snapshot {
  return {
    taskId: instance.task?.id ?? null,
    taskName: instance.taskName,
    kind: instance.kind,
    command: instance.command,
    env: canonicalEnvironment(instance.env),
    workingDirectory: instance.workingDirectory,
    httpRequest: canonicalHttpRequest(instance.httpRequest),
    expectedExitCode: instance.expectedExitCode,
    expectedOutput: instance.expectedOutput,
    cronExpression: instance.cronExpression,
    timeZone: instance.timeZone,
    timeoutSeconds: instance.timeoutSeconds,
    retryTimes: instance.retryTimes,
    retryIntervalSeconds: instance.retryIntervalSeconds,
    retryBackoff: instance.retryBackoff,
    retryMaxIntervalSeconds: instance.retryMaxIntervalSeconds,
    maxParallelRuns: instance.maxParallelRuns,
    priority: instance.priority,
    tag: instance.tag,
    trigger: instance.trigger,
    scheduledAt: instance.scheduledAt,
    dispatchDeadline: instance.dispatchDeadline,
    status: TaskInstanceStatus[instance.status],
    statusReason: instance.statusReason,
    attempt: instance.attempt,
    retryCount: instance.retryCount,
    exitCode: instance.exitCode,
    executorId: instance.executorId,
  };
}

/** Most runs one `runTasks` call creates. */
export const maxRunsPerCall = 1000;

export interface RunRequest {
  readonly taskId: string;
  readonly overrides?: RunTaskOverrides | null;
}

/** A task as an override is checked against it. */
interface LockedTask {
  id: number;
  ownerId: number | null;
  kind: TaskKind;
  command: string;
  env: EnvironmentMap;
}

/** What runMany's statement returns besides the run's columns. */
interface RunTaskColumns {
  task_id: string | number;
  max_parallel_runs: number;
  task_owner_id: number | null;
  task_overlap_policy: OverlapPolicy;
}

/**
 * Locks the tasks in id order, so that two callers cannot deadlock, a concurrent deleteTask
 * sees these runs or they see no task, and runs counted under SKIP cannot grow meanwhile (the
 * cron ticker locks the task too).
 */
async function lockTasks(em: EntityManager, taskIds: number[]): Promise<Map<number, LockedTask>> {
  const rows = await query<LockedTask>(
    em,
    `select id, owner_id as "ownerId", kind, command, env from tasks
      where id = any($1::bigint[]) order by id for update`,
    [[...new Set(taskIds)]],
    { prepare: true },
  );
  return new Map(rows.map((task) => [task.id, task]));
}

/** Each request's task exists and the caller may run it; the first that fails throws. */
function assertRunnable(
  principal: Principal,
  requests: readonly RunRequest[],
  taskIds: readonly number[],
  tasks: ReadonlyMap<number, { ownerId: number | null }>,
): void {
  taskIds.forEach((id, index) => {
    const task = tasks.get(id);
    if (!task) throw new NotFoundError('Task', requests[index]!.taskId);
    assertOwnerOrAdmin(principal, task.ownerId, `task ${id}`);
  });
}

/**
 * Under `overlapPolicy: SKIP` a task takes no run beyond its `maxParallelRuns`: counted after
 * the new runs are inserted (under the task's lock), the first run in request order that goes
 * past the limit is refused, and with it the whole call.
 */
async function assertRoomUnderSkip(
  em: EntityManager,
  taskIds: readonly number[],
  tasks: ReadonlyMap<number, { overlapPolicy: OverlapPolicy; maxParallelRuns: number }>,
): Promise<void> {
  const skipping = [...tasks].filter(([, task]) => task.overlapPolicy === OverlapPolicy.SKIP);
  if (skipping.length === 0) return;
  const rows = await query<{ task_id: number; active: string }>(
    em,
    `select task_id, count(*) as active from task_instances
      where task_id = any($1::int[]) and status in (${activeStatuses.join(', ')}) group by task_id`,
    [skipping.map(([id]) => id)],
    { prepare: true },
  );
  const active = new Map(rows.map((row) => [Number(row.task_id), Number(row.active)]));
  // What each task had before this call: its count less the runs just created.
  for (const id of taskIds) if (active.has(id)) active.set(id, active.get(id)! - 1);
  for (const id of taskIds) {
    const task = tasks.get(id)!;
    if (task.overlapPolicy !== OverlapPolicy.SKIP) continue;
    const before = active.get(id) ?? 0;
    if (before >= task.maxParallelRuns) {
      throw new ConflictError(
        `Task ${id} already has ${before} of maxParallelRuns ${task.maxParallelRuns} ` +
          'runs; wait, or set overlapPolicy: WAIT.',
      );
    }
    active.set(id, before + 1);
  }
}

/** Runs `build`, putting `prefix` before the field path of a validation error it throws. */
function withFieldPrefix<T>(prefix: string, build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (prefix && error instanceof ValidationError) {
      throw new ValidationError(`${prefix}${error.field}`, error.message);
    }
    throw error;
  }
}

/**
 * `runOneAtOnce`'s statement, made once: its text is the same for every call (~3 KB, which the
 * prepared statements' cache would otherwise hash at every call). The run is placed on an
 * executor as it is created when nothing waits ahead of it (placement.sql.ts), under the task's
 * row lock, which the placement needs held first. Its `dispatched_at` is the moment it was
 * placed: `now()` is the statement's start, before its waits for locks.
 */
const runOneAtOnceSql = `with locked as materialized (
     select *, encode(sha256(convert_to(tasks::text, 'UTF8')), 'hex') as row_version from tasks
      where id = $1::bigint and overlap_policy <> '${OverlapPolicy.SKIP}'
        and ($2::boolean or owner_id = $3::bigint)
        for update),
   placed as materialized (
     select p.* from locked t
      cross join lateral ${placeNewRunFunction}(
        t.id::int, t.routing_strategy, t.max_parallel_runs, $10::int, $11::float8) p),
   inserted as (
     insert into task_instances (
       id, ${taskSnapshotColumns}, trigger, status, attempt, dispatch_deadline, created_at,
       updated_at, executor_id, executor_name, executor_host, dispatched_at)
     select $4::bigint, ${taskSnapshotValues()}, '${TaskInstanceTrigger.MANUAL}',
            case when p.executor_id is null then ${TaskInstanceStatus.SCHEDULED}
                 else ${TaskInstanceStatus.DISPATCHED} end,
            1, ${dispatchDeadlineSql('now()')}, now(), now(), p.executor_id, p.executor_name,
            p.executor_host, case when p.executor_id is null then null else clock_timestamp() end
       from locked t left join placed p on true
   returning *),
   audited as (
     insert into audit_entries
       (actor_id, actor_name, action, entity_type, entity_id, changes, request_id, created_at)
     select $5::bigint, $6::text, 'runTask', 'TaskInstance', i.id::text,
            case when l.row_version = $8::text then $9::jsonb || ${newRunPerRunChangesSql('i')}
                 else ${newRunAuditChangesSql('i')} end,
            $7::text, now()
       from inserted i cross join locked l)
   select inserted.*, (select row_version from locked) as task_row_version from inserted`;

/** Rules and transactions for TaskInstance. */
export class TaskInstanceService {
  /** `attemptsOf` batches, per entity manager (that is, per request). */
  private readonly attemptBatchers = new WeakMap<
    EntityManager,
    TickBatcher<string, TaskInstanceAttempt[]>
  >();

  /** The audit changes of `runTask` runs, per task version (see RunAuditCache). */
  private readonly runAudits = new RunAuditCache();

  constructor(
    private readonly ids: SnowflakeGenerator,
    private readonly turns: RoundRobinTurns,
  ) {}

  /**
   * The earlier attempts of a run, by attempt. GraphQL resolves the field for every run of a
   * page in the same tick, so the ids asked for in one tick are loaded with one query.
   */
  async attemptsOf(em: EntityManager, instance: TaskInstance): Promise<TaskInstanceAttempt[]> {
    let batcher = this.attemptBatchers.get(em);
    if (!batcher) {
      batcher = new TickBatcher(
        (ids) => loadAttempts(em, ids),
        () => new Promise((resolve) => process.nextTick(resolve)),
      );
      this.attemptBatchers.set(em, batcher);
    }
    return (await batcher.get(instance.id)) ?? [];
  }

  async get(em: EntityManager, id: string, field = 'id'): Promise<TaskInstance> {
    const instance = await em.findOne(TaskInstance, { id: parseBigId(field, id) });
    if (!instance) throw new NotFoundError('TaskInstance', id);
    return instance;
  }

  /** Newest first: ids are snowflakes, so id order is creation order. */
  async list(
    ctx: RequestContext,
    filter: TaskInstanceFilter | undefined,
    page: PageArgs,
  ): Promise<Page<TaskInstance>> {
    const where: FilterQuery<TaskInstance> = {};
    if (filter?.taskId) where.task = parseId('filter.taskId', filter.taskId);
    if (filter?.statuses) where.status = { $in: filter.statuses };
    if (filter?.trigger) where.trigger = filter.trigger;
    if (filter?.executorId) where.executorId = parseId('filter.executorId', filter.executorId);
    const created = timeRange('created', filter?.createdAfter, filter?.createdBefore);
    if (created) where.createdAt = created;
    const scheduled = timeRange('scheduled', filter?.scheduledAfter, filter?.scheduledBefore);
    if (scheduled) where.scheduledAt = scheduled;
    return paginate(ctx.em, TaskInstance, where, page, 'desc');
  }

  listForTask(ctx: RequestContext, task: Task, page: PageArgs): Promise<Page<TaskInstance>> {
    return paginate(ctx.em, TaskInstance, { task: task.id }, page, 'desc');
  }

  /**
   * Creates a manual run of a task now, with a snapshot of the task's fields. It stays SCHEDULED
   * until a dispatcher assigns it to an executor. A task at its `maxParallelRuns` refuses the run
   * (CONFLICT) under `overlapPolicy: SKIP`; under WAIT the run is created and waits its turn.
   */
  async run(
    ctx: RequestContext,
    taskId: string,
    overrides?: RunTaskOverrides | null,
  ): Promise<TaskInstance> {
    const [instance] = await this.runMany(ctx, [{ taskId, overrides }], '');
    return instance!;
  }

  /**
   * `run` for many requests in one transaction: all of them are created, or (any refused) none.
   * `fieldPrefix` names the list in error paths (`runs` → `runs[3].overrides.env`).
   */
  async runMany(
    ctx: RequestContext,
    requests: readonly RunRequest[],
    fieldPrefix = 'runs',
  ): Promise<TaskInstance[]> {
    const principal = requirePrincipal(ctx);
    if (requests.length === 0 || requests.length > maxRunsPerCall) {
      throw new ValidationError(
        fieldPrefix,
        `Give 1 to ${maxRunsPerCall} runs per call (got ${requests.length}).`,
      );
    }
    const at = (index: number, field: string): string =>
      fieldPrefix ? `${fieldPrefix}[${index}].${field}` : field;
    const taskIds = requests.map((request, index) =>
      parseId(at(index, fieldPrefix ? 'taskId' : 'id'), request.taskId),
    );
    // The usual `runTask` (one run, no overrides) is one statement that commits by itself; any
    // other outcome (a task missing, not the caller's, or under overlapPolicy SKIP) takes the
    // transaction below, which explains the refusal or counts the task's runs under its lock.
    const [request] = requests;
    if (requests.length === 1 && request && !request.overrides) {
      const instance = await this.runOneAtOnce(ctx, principal, taskIds[0]!);
      if (instance) return [instance];
    }
    const created = await ctx.em.transactional(async (em) => {
      // Without overrides, the tasks are locked by the statement that creates the runs (a round
      // trip fewer), and the checks look at what it locked: failing one rolls the runs back.
      // Overrides are validated against their task first, so that path reads it beforehand.
      const hasOverrides = requests.some((request) => request.overrides);
      const locked = hasOverrides ? await lockTasks(em, taskIds) : null;
      if (locked) assertRunnable(principal, requests, taskIds, locked);
      const overridden = locked
        ? requests.map((request, index) => {
            const task = locked.get(taskIds[index]!);
            if (!task || !request.overrides) return null;
            return withFieldPrefix(at(index, ''), () =>
              applyRunOverrides(task.kind, task.command, task.env, request.overrides),
            );
          })
        : null;
      const runIds = requests.map(() => this.ids.next());
      // The tasks as locked: by this statement (a CTE), or already by lockTasks.
      const lockedTasks = locked ? 'tasks' : 'locked';
      // One statement for all runs, with the snapshot every creator of runs takes
      // (task-snapshot.sql.ts); the dispatchers of every replica hear of them once committed.
      const rows = await query<Record<string, unknown> & RunTaskColumns>(
        em,
        `with ${locked ? '' : `locked as materialized (select * from tasks where id = any($5::bigint[]) order by id for update),`}
         inserted as (
           insert into task_instances (
             id, ${taskSnapshotColumns}, trigger, status, attempt, dispatch_deadline, created_at,
             updated_at)
           select r.id, ${taskSnapshotValues({ command: 'coalesce(r.command, t.command)', env: 'coalesce(r.env, t.env)' })},
                  '${TaskInstanceTrigger.MANUAL}', ${TaskInstanceStatus.SCHEDULED}, 1,
                  ${dispatchDeadlineSql('now()')}, now(), now()
             from unnest($1::bigint[], $2::bigint[], $3::text[], $4::jsonb[]) as r(id, task_id, command, env)
             join ${lockedTasks} t on t.id = r.task_id
         returning *)
         select inserted.*, t.owner_id as "task_owner_id", t.overlap_policy as "task_overlap_policy"
           from inserted join ${lockedTasks} t on t.id = inserted.task_id
          order by inserted.id`,
        [
          runIds,
          taskIds,
          overridden?.map((run) => run?.command ?? null) ?? taskIds.map(() => null),
          overridden?.map((run) => (run ? JSON.stringify(run.env) : null)) ??
            taskIds.map(() => null),
          ...(locked ? [] : [[...new Set(taskIds)]]),
        ],
        { prepare: true },
      );
      const tasks = new Map(
        rows.map((row) => [
          Number(row.task_id),
          {
            ownerId: row.task_owner_id,
            overlapPolicy: row.task_overlap_policy,
            maxParallelRuns: Number(row.max_parallel_runs),
          },
        ]),
      );
      assertRunnable(principal, requests, taskIds, tasks);
      await assertRoomUnderSkip(em, taskIds, tasks);
      // Tracked by no entity manager: the transaction's would compute a change set for every one
      // of them at commit (up to 1,000), for nothing. (Their task references are the request's.)
      const instances = entitiesFromRows(
        ctx.em,
        TaskInstance,
        rows as unknown as EntityDictionary<TaskInstance>[],
      );
      // The runs of one task without overrides are the same snapshot: diffed once (the
      // snapshot holds no id or creation time).
      const changesByGroup = new Map<string, AuditChanges>();
      const overriddenIds = new Set(runIds.filter((_, index) => overridden?.[index]));
      await insertAudits(
        em,
        ctx,
        instances.map((instance) => {
          const group = overriddenIds.has(instance.id) ? instance.id : `task:${instance.task?.id}`;
          let changes = changesByGroup.get(group);
          if (!changes) {
            changes = diff(null, taskInstanceSnapshot(instance));
            changesByGroup.set(group, changes);
          }
          return { action: 'runTask', entityType: 'TaskInstance', entityId: instance.id, changes };
        }),
      );
      return instances;
    });
    ctx.services.bus.publish(channels.dispatch);
    return created;
  }

  /**
   * One run of a task the caller may run and whose overlap policy is not SKIP, with its audit
   * entry, in one statement (no begin or commit: a `runTask` took five round trips to the
   * database, and was most of the server's work at 500 calls a second), placed on an executor
   * when nothing waits ahead of it. Null, with nothing written, when any of that does not hold.
   * Once committed, its executor is told, or the dispatchers of every replica.
   */
  private async runOneAtOnce(
    ctx: RequestContext,
    principal: Principal,
    taskId: number,
  ): Promise<TaskInstance | null> {
    // assertOwnerOrAdmin's rule, applied by the statement.
    const changeable = changeableOwners(principal);
    const audit = this.runAudits.get(taskId);
    // A run left SCHEDULED has no executor yet.
    const [row] = await query<
      Omit<AddressedRow, 'executor_id'> & { executor_id: number | null; task_row_version: string }
    >(
      ctx.em,
      runOneAtOnceSql,
      [
        taskId,
        changeable.anyOwner,
        changeable.ownerId,
        this.ids.next(),
        principal.userId,
        principal.username,
        ctx.requestId,
        audit?.version ?? null,
        audit?.changes ?? null,
        this.turns.take(taskId),
        Math.random(),
      ],
      { prepare: true },
    );
    if (!row) return null;
    const [instance] = entitiesFromRows(ctx.em, TaskInstance, [
      row as unknown as EntityDictionary<TaskInstance>,
    ]);
    if (row.task_row_version !== audit?.version) {
      // The statement made the changes itself: the same, made here for the next run.
      const changes = diff(null, taskInstanceSnapshot(instance!));
      for (const field of runAuditPerRunFields) delete changes[field];
      this.runAudits.set(taskId, row.task_row_version, changes);
    }
    const { executor_id: executorId } = row;
    if (executorId === null) {
      ctx.services.bus.publish(channels.dispatch);
    } else {
      announceAssignments(
        [{ ...row, executor_id: executorId }],
        ctx.services.assignments,
        ctx.services.bus,
      );
    }
    return instance!;
  }

  /** Deletes a run that is over, with its logs. A run of a deleted task: admins only. */
  async delete(ctx: RequestContext, id: string): Promise<string> {
    const principal = requirePrincipal(ctx);
    return ctx.em.transactional(async (em) => {
      // Locked so that a dispatcher cannot revive it (a retry) while it is being deleted.
      const instance = await em.findOne(
        TaskInstance,
        { id: parseBigId('id', id) },
        { lockMode: LockMode.PESSIMISTIC_WRITE },
      );
      if (!instance) throw new NotFoundError('TaskInstance', id);
      const task = instance.task ? await em.findOne(Task, { id: instance.task.id }) : null;
      assertOwnerOrAdmin(principal, task?.owner?.id, `run ${instance.id}`);
      if (activeStatuses.includes(instance.status)) {
        throw new ConflictError(
          `Run ${instance.id} is ${TaskInstanceStatus[instance.status]}; cancel it or wait for ` +
            'it to finish, then delete it.',
        );
      }
      recordAudit(em, ctx, {
        action: 'deleteTaskInstance',
        entityType: 'TaskInstance',
        entityId: instance.id,
        before: taskInstanceSnapshot(instance),
        after: null,
      });
      em.remove(instance);
      await em.flush();
      return instance.id;
    });
  }
}

async function loadAttempts(
  em: EntityManager,
  instanceIds: string[],
): Promise<Map<string, TaskInstanceAttempt[]>> {
  const attempts = await em.find(
    TaskInstanceAttempt,
    { instance: { $in: instanceIds } },
    { orderBy: { instance: 'asc', attempt: 'asc' } },
  );
  const byInstance = new Map<string, TaskInstanceAttempt[]>();
  for (const attempt of attempts) {
    const key = attempt.instance.id;
    const list = byInstance.get(key);
    if (list) list.push(attempt);
    else byInstance.set(key, [attempt]);
  }
  return byInstance;
}

/** `[after, before)` as a filter on an instant column, refused when empty. */
function timeRange(
  name: 'created' | 'scheduled',
  after: Date | null | undefined,
  before: Date | null | undefined,
): { $gte?: Date; $lt?: Date } | null {
  if (after && before && after >= before) {
    throw new ValidationError(
      `filter.${name}Before`,
      `filter.${name}Before must be later than filter.${name}After.`,
    );
  }
  if (!after && !before) return null;
  return { ...(after ? { $gte: after } : {}), ...(before ? { $lt: before } : {}) };
}
