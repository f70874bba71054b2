import { LockMode, type EntityManager, type FilterQuery } from '@mikro-orm/postgresql';
import { channels } from '../pubsub/channels.js';
import { recordAudit, type Snapshot } from '../audit/audit-log.js';
import { assertOwnerOrAdmin, requirePrincipal } from '../auth/auth-checker.js';
import type { RequestContext } from '../server/context.js';
import { ConflictError, NotFoundError, ValidationError } from '../shared/app-error.js';
import { paginate, type Page, type PageArgs } from '../shared/pagination.js';
import type { SnowflakeGenerator } from '../shared/snowflake.js';
import { parseBigId, parseId } from '../shared/validation.js';
import { Task } from '../tasks/task.entity.js';
import { activeStatuses, TaskInstanceStatus } from './task-instance-status.js';
import { TaskInstanceTrigger } from './task-instance-trigger.js';
import { TaskInstance } from './task-instance.entity.js';
import type { TaskInstanceFilter } from './task-instance.inputs.js';

export function taskInstanceSnapshot(instance: TaskInstance): Snapshot {
  return {
    taskId: instance.task?.id ?? null,
    taskName: instance.taskName,
    kind: instance.kind,
    command: instance.command,
    cronExpression: instance.cronExpression,
    timeZone: instance.timeZone,
    timeoutSeconds: instance.timeoutSeconds,
    retryTimes: instance.retryTimes,
    maxParallelRuns: instance.maxParallelRuns,
    tag: instance.tag,
    trigger: instance.trigger,
    scheduledAt: instance.scheduledAt,
    status: TaskInstanceStatus[instance.status],
    attempt: instance.attempt,
    exitCode: instance.exitCode,
    executorId: instance.executorId,
  };
}

/** Rules and transactions for TaskInstance. */
export class TaskInstanceService {
  constructor(private readonly ids: SnowflakeGenerator) {}

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
    const { createdAfter, createdBefore } = filter ?? {};
    if (createdAfter && createdBefore && createdAfter >= createdBefore) {
      throw new ValidationError(
        'filter.createdBefore',
        'filter.createdBefore must be later than filter.createdAfter.',
      );
    }
    if (createdAfter || createdBefore) {
      where.createdAt = {
        ...(createdAfter ? { $gte: createdAfter } : {}),
        ...(createdBefore ? { $lt: createdBefore } : {}),
      };
    }
    return paginate(ctx.em, TaskInstance, where, page, 'desc');
  }

  listForTask(ctx: RequestContext, task: Task, page: PageArgs): Promise<Page<TaskInstance>> {
    return paginate(ctx.em, TaskInstance, { task: task.id }, page, 'desc');
  }

  /**
   * Creates a manual run of a task now, with a snapshot of the task's fields. It stays SCHEDULED
   * until a dispatcher assigns it to an executor.
   */
  async run(ctx: RequestContext, taskId: string): Promise<TaskInstance> {
    const principal = requirePrincipal(ctx);
    return ctx.em.transactional(async (em) => {
      // Locked so that a concurrent deleteTask sees this run, or this run sees no task.
      const task = await ctx.services.tasks.lockTask(em, taskId);
      assertOwnerOrAdmin(principal, task.owner?.id, `task ${task.id}`);
      const instance = new TaskInstance();
      instance.id = this.ids.next();
      instance.task = task;
      copyTaskSnapshot(task, instance);
      instance.trigger = TaskInstanceTrigger.MANUAL;
      instance.status = TaskInstanceStatus.SCHEDULED;
      instance.attempt = 1;
      em.persist(instance);
      await em.flush();
      // Delivered at commit: the dispatcher of some replica wakes up for it at once.
      await em.execute(`select pg_notify('${channels.dispatch}', '')`);
      recordAudit(em, ctx, {
        action: 'runTask',
        entityType: 'TaskInstance',
        entityId: instance.id,
        before: null,
        after: taskInstanceSnapshot(instance),
      });
      return instance;
    });
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

/** The task's fields as they are now; later edits of the task do not reach the run. */
function copyTaskSnapshot(task: Task, instance: TaskInstance): void {
  instance.taskName = task.name;
  instance.kind = task.kind;
  instance.command = task.command;
  // The JSON columns are copied, not shared: the instance must never alias the task's objects.
  instance.env = structuredClone(task.env);
  instance.workingDirectory = task.workingDirectory;
  instance.httpRequest = structuredClone(task.httpRequest);
  instance.expectedExitCode = task.expectedExitCode;
  instance.expectedOutput = task.expectedOutput;
  instance.cronExpression = task.cronExpression;
  instance.timeZone = task.timeZone;
  instance.timeoutSeconds = task.timeoutSeconds;
  instance.retryTimes = task.retryTimes;
  instance.maxParallelRuns = task.maxParallelRuns;
  instance.tag = task.tag;
}
