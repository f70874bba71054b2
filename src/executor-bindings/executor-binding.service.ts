import { LockMode, Reference, type EntityManager, type FilterQuery } from '@mikro-orm/postgresql';
import { recordAudit, type Snapshot } from '../audit/audit-log.js';
import { assertOwnerOrAdmin, requirePrincipal } from '../auth/auth-checker.js';
import type { Principal } from '../auth/principal.js';
import { ExecutorGroup } from '../executor-groups/executor-group.entity.js';
import { Executor } from '../executors/executor.entity.js';
import type { RequestContext } from '../server/context.js';
import { ConflictError, NotFoundError } from '../shared/app-error.js';
import { withUniqueConstraints } from '../shared/db-errors.js';
import { paginate, type Page, type PageArgs } from '../shared/pagination.js';
import { integerInRange, isGiven, parseId, requiredText } from '../shared/validation.js';
import { BindingsBatcher } from './bindings-batcher.js';
import { ExecutorBinding } from './executor-binding.entity.js';
import type {
  CreateExecutorBindingInput,
  ExecutorBindingFilter,
  UpdateExecutorBindingInput,
} from './executor-binding.inputs.js';

const maxWeight = 10_000;
/** How many of the tasks in the way a refusal names; the count covers the rest. */
const tasksNamedInRefusal = 5;

// Only reached when another request binds the same pair between our check and our write.
const uniqueMessages = {
  executor_bindings_group_id_executor_id_unique: {
    field: 'input.executorId',
    message: 'That executor was bound into this group just now; update that binding instead.',
  },
};

export function bindingSnapshot(binding: ExecutorBinding): Snapshot {
  return {
    name: binding.name,
    groupId: binding.group.id,
    executorId: binding.executor.id,
    weight: binding.weight,
  };
}

/** Bindings may be changed by admins and by the owner of the binding's group. */
export class ExecutorBindingService {
  private readonly batcher = new BindingsBatcher();

  async list(
    ctx: RequestContext,
    filter: ExecutorBindingFilter | null | undefined,
    page: PageArgs,
  ): Promise<Page<ExecutorBinding>> {
    const where: FilterQuery<ExecutorBinding> = {};
    if (isGiven(filter?.groupId)) where.group = parseId('filter.groupId', filter.groupId);
    if (isGiven(filter?.executorId)) {
      where.executor = parseId('filter.executorId', filter.executorId);
    }
    return paginate(ctx.em, ExecutorBinding, where, page);
  }

  async get(em: EntityManager, id: string | number, lockMode?: LockMode): Promise<ExecutorBinding> {
    const binding = await em.findOne(ExecutorBinding, { id: parseId('id', id) }, { lockMode });
    if (!binding) throw new NotFoundError('ExecutorBinding', id);
    return binding;
  }

  /** The bindings of a group, oldest first; batched across the groups of one request. */
  ofGroup(em: EntityManager, groupId: number): Promise<ExecutorBinding[]> {
    return this.batcher.load(em, 'group', groupId);
  }

  /** The bindings of an executor, oldest first; batched across the executors of one request. */
  ofExecutor(em: EntityManager, executorId: number): Promise<ExecutorBinding[]> {
    return this.batcher.load(em, 'executor', executorId);
  }

  groupOf(binding: ExecutorBinding): Promise<ExecutorGroup> {
    return Reference.create(binding.group).loadOrFail({ dataloader: true });
  }

  executorOf(binding: ExecutorBinding): Promise<Executor> {
    return Reference.create(binding.executor).loadOrFail({ dataloader: true });
  }

  async create(ctx: RequestContext, input: CreateExecutorBindingInput): Promise<ExecutorBinding> {
    const principal = requirePrincipal(ctx);
    const name = requiredText('input.name', input.name, 100);
    const weight = validWeight('input.weight', input.weight);
    const groupId = parseId('input.groupId', input.groupId);
    const executorId = parseId('input.executorId', input.executorId);
    return withUniqueConstraints(
      () =>
        ctx.em.transactional(async (em) => {
          const group = await this.lockGroup(em, groupId, 'input.groupId');
          assertMayChangeBindingsOf(principal, group);
          const executor = await this.lockExecutor(em, executorId, 'input.executorId');
          await this.assertNotBound(em, group, executor, null);
          const binding = new ExecutorBinding();
          binding.name = name;
          binding.weight = weight;
          binding.group = group;
          binding.executor = executor;
          em.persist(binding);
          await em.flush();
          recordAudit(em, ctx, {
            action: 'createExecutorBinding',
            entityType: 'ExecutorBinding',
            entityId: binding.id,
            before: null,
            after: bindingSnapshot(binding),
          });
          return binding;
        }),
      uniqueMessages,
    );
  }

  /** Changing `executorId` moves the binding: every task pointing at it now runs there. */
  async update(
    ctx: RequestContext,
    id: string,
    input: UpdateExecutorBindingInput,
  ): Promise<ExecutorBinding> {
    const principal = requirePrincipal(ctx);
    return withUniqueConstraints(
      () =>
        ctx.em.transactional(async (em) => {
          const binding = await this.get(em, id, LockMode.PESSIMISTIC_WRITE);
          const group = await this.lockGroup(em, binding.group.id, 'id');
          assertMayChangeBindingsOf(principal, group);
          const before = bindingSnapshot(binding);
          if (isGiven(input.name)) binding.name = requiredText('input.name', input.name, 100);
          if (isGiven(input.weight)) binding.weight = validWeight('input.weight', input.weight);
          if (isGiven(input.executorId)) {
            const executorId = parseId('input.executorId', input.executorId);
            if (executorId !== binding.executor.id) {
              const executor = await this.lockExecutor(em, executorId, 'input.executorId');
              await this.assertNotBound(em, group, executor, binding.id);
              binding.executor = executor;
            }
          }
          await em.flush();
          recordAudit(em, ctx, {
            action: 'updateExecutorBinding',
            entityType: 'ExecutorBinding',
            entityId: binding.id,
            before,
            after: bindingSnapshot(binding),
          });
          return binding;
        }),
      uniqueMessages,
    );
  }

  /**
   * Refused while a task uses the binding: the join table would silently drop it (its foreign
   * key cascades), leaving the task with fewer places to run than its owner chose.
   */
  async delete(ctx: RequestContext, id: string): Promise<number> {
    const principal = requirePrincipal(ctx);
    return ctx.em.transactional(async (em) => {
      // Adding a task to this binding needs a share lock on its row (the foreign key check), so
      // holding the row lock keeps the task count below true until we commit.
      const binding = await this.get(em, id, LockMode.PESSIMISTIC_WRITE);
      const group = await em.findOneOrFail(ExecutorGroup, { id: binding.group.id });
      assertMayChangeBindingsOf(principal, group);
      const tasks = await em.execute<{ id: number; name: string }[]>(
        `select t.id, t.name from task_bindings tb join tasks t on t.id = tb.task_id
          where tb.binding_id = ? order by t.id`,
        [binding.id],
      );
      if (tasks.length > 0) {
        const named = tasks
          .slice(0, tasksNamedInRefusal)
          .map((task) => `"${task.name}" (id ${task.id})`)
          .join(', ');
        const more = tasks.length > tasksNamedInRefusal ? ' and more' : '';
        throw new ConflictError(
          `Binding "${binding.name}" is used by ${tasks.length} task(s): ${named}${more}. ` +
            'Remove it from those tasks first, or move it to another executor with ' +
            'updateExecutorBinding instead of deleting it.',
        );
      }
      const bindingId = binding.id;
      recordAudit(em, ctx, {
        action: 'deleteExecutorBinding',
        entityType: 'ExecutorBinding',
        entityId: bindingId,
        before: bindingSnapshot(binding),
        after: null,
      });
      em.remove(binding);
      await em.flush();
      return bindingId;
    });
  }

  /**
   * A share lock: a concurrent deleteExecutorGroup (which takes the row for update) either
   * finishes first, and we report the group missing, or waits until we commit and then sees
   * the new binding.
   */
  private async lockGroup(em: EntityManager, id: number, field: string): Promise<ExecutorGroup> {
    const group = await em.findOne(ExecutorGroup, { id }, { lockMode: LockMode.PESSIMISTIC_READ });
    if (!group) throw new NotFoundError('ExecutorGroup', id, field);
    return group;
  }

  /** A share lock, for the same reason as lockGroup, against deleteExecutor. */
  private async lockExecutor(em: EntityManager, id: number, field: string): Promise<Executor> {
    const executor = await em.findOne(Executor, { id }, { lockMode: LockMode.PESSIMISTIC_READ });
    if (!executor) throw new NotFoundError('Executor', id, field);
    return executor;
  }

  /** One binding per (group, executor): a second one would only split the same weight. */
  private async assertNotBound(
    em: EntityManager,
    group: ExecutorGroup,
    executor: Executor,
    exceptBindingId: number | null,
  ): Promise<void> {
    const existing = await em.findOne(ExecutorBinding, {
      group: group.id,
      executor: executor.id,
      ...(exceptBindingId === null ? {} : { id: { $ne: exceptBindingId } }),
    });
    if (!existing) return;
    throw new ConflictError(
      `Executor "${executor.name}" is already bound into group "${group.name}" by binding ` +
        `"${existing.name}" (id ${existing.id}); change that binding's weight instead.`,
      { field: 'input.executorId' },
    );
  }
}

function assertMayChangeBindingsOf(principal: Principal, group: ExecutorGroup): void {
  assertOwnerOrAdmin(principal, group.owner?.id, `the bindings of executor group "${group.name}"`);
}

function validWeight(field: string, value: number): number {
  return integerInRange(field, value, 1, maxWeight);
}
