import { LockMode, type EntityManager, type FilterQuery } from '@mikro-orm/postgresql';
import { recordAudit, type Snapshot } from '../audit/audit-log.js';
import { assertOwnerOrAdmin, requirePrincipal } from '../auth/auth-checker.js';
import { ExecutorBinding } from '../executor-bindings/executor-binding.entity.js';
import type { RequestContext } from '../server/context.js';
import { ConflictError, NotFoundError } from '../shared/app-error.js';
import { withUniqueConstraints } from '../shared/db-errors.js';
import { paginate, type Page, type PageArgs } from '../shared/pagination.js';
import { containsPattern, isGiven, parseId } from '../shared/validation.js';
import { User } from '../users/user.entity.js';
import { ExecutorGroup } from './executor-group.entity.js';
import type {
  CreateExecutorGroupInput,
  ExecutorGroupFilter,
  UpdateExecutorGroupInput,
} from './executor-group.inputs.js';
import {
  validGroupDescription,
  validGroupName,
  validGroupTag,
} from './executor-group.validation.js';

const uniqueMessages = {
  executor_groups_name_unique: {
    field: 'input.name',
    message: 'Another executor group has that name.',
  },
};

export function groupSnapshot(group: ExecutorGroup): Snapshot {
  return {
    name: group.name,
    description: group.description,
    tag: group.tag,
    ownerId: group.owner?.id ?? null,
  };
}

/** Any USER may create a group and becomes its owner; the owner or an admin changes it. */
export class ExecutorGroupService {
  async list(
    ctx: RequestContext,
    filter: ExecutorGroupFilter | null | undefined,
    page: PageArgs,
  ): Promise<Page<ExecutorGroup>> {
    const where: FilterQuery<ExecutorGroup> = {};
    if (isGiven(filter?.tag)) where.tag = filter.tag;
    if (filter?.search) {
      const like = containsPattern(filter.search);
      where.$or = [{ name: { $ilike: like } }, { description: { $ilike: like } }];
    }
    return paginate(ctx.em, ExecutorGroup, where, page);
  }

  async get(em: EntityManager, id: string | number, lockMode?: LockMode): Promise<ExecutorGroup> {
    const group = await em.findOne(ExecutorGroup, { id: parseId('id', id) }, { lockMode });
    if (!group) throw new NotFoundError('ExecutorGroup', id);
    return group;
  }

  async create(ctx: RequestContext, input: CreateExecutorGroupInput): Promise<ExecutorGroup> {
    const principal = requirePrincipal(ctx);
    const group = new ExecutorGroup();
    group.name = validGroupName('input.name', input.name);
    group.description = validGroupDescription('input.description', input.description);
    group.tag = validGroupTag('input.tag', input.tag);
    return withUniqueConstraints(
      () =>
        ctx.em.transactional(async (em) => {
          group.owner = em.getReference(User, principal.userId);
          em.persist(group);
          await em.flush();
          recordAudit(em, ctx, {
            action: 'createExecutorGroup',
            entityType: 'ExecutorGroup',
            entityId: group.id,
            before: null,
            after: groupSnapshot(group),
          });
          return group;
        }),
      uniqueMessages,
    );
  }

  async update(
    ctx: RequestContext,
    id: string,
    input: UpdateExecutorGroupInput,
  ): Promise<ExecutorGroup> {
    const principal = requirePrincipal(ctx);
    return withUniqueConstraints(
      () =>
        ctx.em.transactional(async (em) => {
          const group = await this.get(em, id);
          assertOwnerOrAdmin(principal, group.owner?.id, `executor group "${group.name}"`);
          const before = groupSnapshot(group);
          if (isGiven(input.name)) group.name = validGroupName('input.name', input.name);
          if (isGiven(input.description)) {
            group.description = validGroupDescription('input.description', input.description);
          }
          if (isGiven(input.tag)) group.tag = validGroupTag('input.tag', input.tag);
          await em.flush();
          recordAudit(em, ctx, {
            action: 'updateExecutorGroup',
            entityType: 'ExecutorGroup',
            entityId: group.id,
            before,
            after: groupSnapshot(group),
          });
          return group;
        }),
      uniqueMessages,
    );
  }

  /** Refused while the group has bindings: tasks reach executors through them. */
  async delete(ctx: RequestContext, id: string): Promise<number> {
    const principal = requirePrincipal(ctx);
    return ctx.em.transactional(async (em) => {
      // createExecutorBinding takes this row with a share lock, so while we hold it for update
      // no binding can be added between the count and the delete.
      const group = await this.get(em, id, LockMode.PESSIMISTIC_WRITE);
      assertOwnerOrAdmin(principal, group.owner?.id, `executor group "${group.name}"`);
      const bindingCount = await em.count(ExecutorBinding, { group: group.id });
      if (bindingCount > 0) {
        throw new ConflictError(
          `Executor group "${group.name}" still has ${bindingCount} binding(s). Delete them ` +
            '(deleteExecutorBinding) first; the executors themselves stay.',
        );
      }
      const groupId = group.id;
      recordAudit(em, ctx, {
        action: 'deleteExecutorGroup',
        entityType: 'ExecutorGroup',
        entityId: groupId,
        before: groupSnapshot(group),
        after: null,
      });
      em.remove(group);
      await em.flush();
      return groupId;
    });
  }
}
