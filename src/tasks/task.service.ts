import { LockMode, type EntityManager, type FilterQuery } from '@mikro-orm/postgresql';
import { recordAudit, type Snapshot } from '../audit/audit-log.js';
import { assertOwnerOrAdmin, requirePrincipal } from '../auth/auth-checker.js';
import { ExecutorBinding } from '../executor-bindings/executor-binding.entity.js';
import { nextFireTimes, validateCronExpression, validateTimeZone } from '../scheduler/cron.js';
import type { RequestContext } from '../server/context.js';
import { ConflictError, NotFoundError } from '../shared/app-error.js';
import { paginate, type Page, type PageArgs } from '../shared/pagination.js';
import { containsPattern, integerInRange, parseId } from '../shared/validation.js';
import { activeStatuses } from '../task-instances/task-instance-status.js';
import { TaskInstance } from '../task-instances/task-instance.entity.js';
import { User } from '../users/user.entity.js';
import { Task } from './task.entity.js';
import type { CreateTaskInput, TaskFilter, UpdateTaskInput } from './task.inputs.js';
import {
  validBindingIds,
  validNewTask,
  validTaskChanges,
  type TaskFields,
} from './task.validation.js';
import { nextScheduledFire } from './task-schedule.js';
import { canonicalEnvironment, canonicalHttpRequest } from './task-spec.audit.js';

/** Fields whose change restarts the schedule from now (see `update`). */
const scheduleFields = [
  'cronExpression',
  'timeZone',
  'isEnabled',
  'frequency',
  'frequencyTimes',
  'activeFrom',
  'activeUntil',
] as const satisfies readonly (keyof TaskFields)[];

/** Fields whose change makes a new schedule, whose fires are counted anew (`firedCount`). */
const newScheduleFields = [
  'cronExpression',
  'timeZone',
  'frequency',
] as const satisfies readonly (keyof TaskFields)[];

export function taskSnapshot(task: Task): Snapshot {
  return {
    ...taskFields(task),
    env: canonicalEnvironment(task.env),
    httpRequest: canonicalHttpRequest(task.httpRequest),
    nextFireAt: task.nextFireAt,
    firedCount: task.firedCount,
    ownerId: task.owner?.id ?? null,
    // Callers initialise the collection first: a snapshot without the bindings would be wrong.
    bindingIds: task.bindings.getItems().map((binding) => binding.id),
  };
}

function taskFields(task: Task): TaskFields {
  return {
    name: task.name,
    description: task.description,
    kind: task.kind,
    command: task.command,
    env: task.env,
    workingDirectory: task.workingDirectory,
    httpRequest: task.httpRequest,
    expectedExitCode: task.expectedExitCode,
    expectedOutput: task.expectedOutput,
    cronExpression: task.cronExpression,
    timeZone: task.timeZone,
    frequency: task.frequency,
    frequencyTimes: task.frequencyTimes,
    timeoutSeconds: task.timeoutSeconds,
    retryTimes: task.retryTimes,
    retryIntervalSeconds: task.retryIntervalSeconds,
    maxParallelRuns: task.maxParallelRuns,
    tag: task.tag,
    routingStrategy: task.routingStrategy,
    misfirePolicy: task.misfirePolicy,
    overlapPolicy: task.overlapPolicy,
    retryBackoff: task.retryBackoff,
    retryMaxIntervalSeconds: task.retryMaxIntervalSeconds,
    priority: task.priority,
    maxWaitSeconds: task.maxWaitSeconds,
    activeFrom: task.activeFrom,
    activeUntil: task.activeUntil,
    isEnabled: task.isEnabled,
  };
}

/** Field values compared as values: instants by time, the rest by identity. */
function changed<K extends keyof TaskFields>(a: TaskFields, b: TaskFields, key: K): boolean {
  const x = a[key];
  const y = b[key];
  if (x instanceof Date && y instanceof Date) return x.getTime() !== y.getTime();
  return x !== y;
}

/** Rules and transactions for Task. */
export class TaskService {
  async list(
    ctx: RequestContext,
    filter: TaskFilter | undefined,
    page: PageArgs,
  ): Promise<Page<Task>> {
    const where: FilterQuery<Task> = {};
    if (filter?.search) {
      const like = containsPattern(filter.search);
      where.$or = [{ name: { $ilike: like } }, { description: { $ilike: like } }];
    }
    if (filter?.tag !== undefined && filter.tag !== null) where.tag = filter.tag;
    if (filter?.kind) where.kind = filter.kind;
    if (filter?.isEnabled !== undefined && filter.isEnabled !== null) {
      where.isEnabled = filter.isEnabled;
    }
    if (filter?.bindingId) where.bindings = parseId('filter.bindingId', filter.bindingId);
    return paginate(ctx.em, Task, where, page);
  }

  async get(em: EntityManager, id: string | number, field = 'id'): Promise<Task> {
    const task = await em.findOne(Task, { id: parseId(field, id) });
    if (!task) throw new NotFoundError('Task', id);
    return task;
  }

  /** The bindings of a task in id order (FAILOVER's order). Batched across tasks in one query. */
  async bindingsOf(task: Task): Promise<ExecutorBinding[]> {
    const bindings = await task.bindings.loadItems({ dataloader: true });
    return [...bindings].sort((a, b) => a.id - b.id);
  }

  /** Fire times of an expression, for previewing a schedule before saving it. */
  async previewFireTimes(
    ctx: RequestContext,
    args: { cronExpression: string; timeZone: string; count: number; after?: Date | null },
  ): Promise<Date[]> {
    const expression = validateCronExpression('cronExpression', args.cronExpression);
    const timeZone = validateTimeZone('timeZone', args.timeZone);
    const count = integerInRange('count', args.count, 1, 100);
    const after = args.after ?? (await databaseNow(ctx.em));
    return nextFireTimes(expression, timeZone, after, count);
  }

  async create(ctx: RequestContext, input: CreateTaskInput): Promise<Task> {
    const principal = requirePrincipal(ctx);
    const fields = validNewTask(input);
    const bindingIds = validBindingIds('input.bindingIds', input.bindingIds);
    return ctx.em.transactional(async (em) => {
      const task = em.assign(new Task(), fields);
      task.owner = em.getReference(User, principal.userId);
      task.bindings.set(await lockBindings(em, bindingIds));
      task.nextFireAt = nextScheduledFire(task, await databaseNow(em));
      em.persist(task);
      await em.flush();
      recordAudit(em, ctx, {
        action: 'createTask',
        entityType: 'Task',
        entityId: task.id,
        before: null,
        after: taskSnapshot(task),
      });
      return task;
    });
  }

  /**
   * Applies the changes in `input`. Changing the schedule (expression, time zone, frequency,
   * enabling, active window) restarts it from now; other edits leave the next fire time alone,
   * so an edit never skips a fire that is due. A new expression, time zone or frequency is a
   * new schedule: its fires are counted from 0 again.
   */
  async update(ctx: RequestContext, id: string, input: UpdateTaskInput): Promise<Task> {
    const principal = requirePrincipal(ctx);
    return ctx.em.transactional(async (em) => {
      const task = await this.lockTask(em, id);
      assertOwnerOrAdmin(principal, task.owner?.id, `task ${task.id}`);
      const current = taskFields(task);
      const fields = validTaskChanges(current, input);
      const bindingIds = input.bindingIds
        ? validBindingIds('input.bindingIds', input.bindingIds)
        : undefined;
      await task.bindings.init();
      const before = taskSnapshot(task);
      em.assign(task, fields);
      if (bindingIds) task.bindings.set(await lockBindings(em, bindingIds));
      if (newScheduleFields.some((key) => changed(fields, current, key))) task.firedCount = 0;
      if (scheduleFields.some((key) => changed(fields, current, key))) {
        task.nextFireAt = nextScheduledFire(task, await databaseNow(em));
      }
      await em.flush();
      recordAudit(em, ctx, {
        action: 'updateTask',
        entityType: 'Task',
        entityId: task.id,
        before,
        after: taskSnapshot(task),
      });
      return task;
    });
  }

  /**
   * Deletes a task that has no run in progress. Finished runs stay, with their snapshot of the
   * task, and their task link becomes null (the foreign key's `on delete set null`).
   */
  async delete(ctx: RequestContext, id: string): Promise<number> {
    const principal = requirePrincipal(ctx);
    return ctx.em.transactional(async (em) => {
      const task = await this.lockTask(em, id);
      assertOwnerOrAdmin(principal, task.owner?.id, `task ${task.id}`);
      // The task row is locked, and runTask locks it too, so no new run can start meanwhile.
      const active = await em.count(TaskInstance, {
        task: task.id,
        status: { $in: [...activeStatuses] },
      });
      if (active > 0) {
        throw new ConflictError(
          `Task ${task.id} has ${active} run(s) scheduled, dispatched or running; cancel them ` +
            'or wait for them to finish, then delete it.',
        );
      }
      await task.bindings.init();
      const taskId = task.id;
      recordAudit(em, ctx, {
        action: 'deleteTask',
        entityType: 'Task',
        entityId: taskId,
        before: taskSnapshot(task),
        after: null,
      });
      em.remove(task);
      await em.flush();
      return taskId;
    });
  }

  /**
   * Loads a task with its row locked until the transaction ends, which serialises edits,
   * deletion, manual runs and the scheduler's claim of the same task.
   */
  async lockTask(em: EntityManager, id: string | number, field = 'id'): Promise<Task> {
    const task = await em.findOne(
      Task,
      { id: parseId(field, id) },
      { lockMode: LockMode.PESSIMISTIC_WRITE },
    );
    if (!task) throw new NotFoundError('Task', id);
    return task;
  }
}

/**
 * The bindings with these ids, share-locked so that none is deleted before the transaction
 * links them to the task.
 */
async function lockBindings(em: EntityManager, ids: readonly number[]): Promise<ExecutorBinding[]> {
  if (ids.length === 0) return [];
  const found = await em.find(
    ExecutorBinding,
    { id: { $in: [...ids] } },
    { lockMode: LockMode.PESSIMISTIC_READ, orderBy: { id: 'asc' } },
  );
  const known = new Set(found.map((binding) => binding.id));
  const missing = ids.find((id) => !known.has(id));
  if (missing !== undefined)
    throw new NotFoundError('ExecutorBinding', missing, 'input.bindingIds');
  return found;
}

/** The database's clock: what is due is decided by it, never by a replica's own clock. */
export async function databaseNow(em: EntityManager): Promise<Date> {
  const [row] = await em.execute<{ now: Date }[]>('select now() as now');
  if (!row) throw new Error('select now() returned no row');
  return new Date(row.now);
}
