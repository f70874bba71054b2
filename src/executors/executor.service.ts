import { LockMode, type EntityManager, type FilterQuery } from '@mikro-orm/postgresql';
import { channels } from '../pubsub/channels.js';
import { recordAudit, type Snapshot } from '../audit/audit-log.js';
import { ExecutorBinding } from '../executor-bindings/executor-binding.entity.js';
import type { RequestContext } from '../server/context.js';
import { ConflictError, NotFoundError } from '../shared/app-error.js';
import { withUniqueConstraints } from '../shared/db-errors.js';
import { paginate, type Page, type PageArgs } from '../shared/pagination.js';
import { containsPattern, isGiven, parseId } from '../shared/validation.js';
import { Executor } from './executor.entity.js';
import type {
  CreateExecutorInput,
  ExecutorFilter,
  UpdateExecutorInput,
} from './executor.inputs.js';
import {
  maxMachineId,
  validCapacity,
  validExecutorDescription,
  validExecutorName,
  validExecutorTag,
  validHost,
  validMachineId,
  validPublicKey,
} from './executor.validation.js';

/** How many of the groups in the way a refusal names; the count covers the rest. */
const groupsNamedInRefusal = 5;

const uniqueMessages = {
  executors_name_unique: { field: 'input.name', message: 'Another executor has that name.' },
  // Only reached when another request takes the id between our check and our insert.
  executors_machine_id_unique: {
    field: 'input.machineId',
    message: 'Another executor took that machineId just now; pick another.',
  },
};

export function executorSnapshot(executor: Executor): Snapshot {
  return {
    name: executor.name,
    description: executor.description,
    tag: executor.tag,
    host: executor.host,
    machineId: executor.machineId,
    publicKey: executor.publicKey,
    capacity: executor.capacity,
    isEnabled: executor.isEnabled,
  };
}

/** Executors are machines: only admins define them; any logged-in user may read them. */
export class ExecutorService {
  async list(
    ctx: RequestContext,
    filter: ExecutorFilter | null | undefined,
    page: PageArgs,
  ): Promise<Page<Executor>> {
    const where: FilterQuery<Executor> = {};
    if (isGiven(filter?.tag)) where.tag = filter.tag;
    if (isGiven(filter?.isEnabled)) where.isEnabled = filter.isEnabled;
    if (isGiven(filter?.isOnline)) where.isOnline = filter.isOnline;
    if (filter?.search) {
      const like = containsPattern(filter.search);
      where.$or = [
        { name: { $ilike: like } },
        { host: { $ilike: like } },
        { description: { $ilike: like } },
      ];
    }
    if (isGiven(filter?.groupId)) {
      // Executor has no inverse relation to its bindings; a group holds few, so fetch their ids.
      const groupId = parseId('filter.groupId', filter.groupId);
      const rows = await ctx.em.execute<{ executor_id: number }[]>(
        'select executor_id from executor_bindings where group_id = ?',
        [groupId],
      );
      where.id = { $in: rows.map((row) => row.executor_id) };
    }
    return paginate(ctx.em, Executor, where, page);
  }

  async get(
    em: EntityManager,
    id: string | number,
    field = 'id',
    lockMode?: LockMode,
  ): Promise<Executor> {
    const executor = await em.findOne(Executor, { id: parseId(field, id) }, { lockMode });
    if (!executor) throw new NotFoundError('Executor', id);
    return executor;
  }

  async create(ctx: RequestContext, input: CreateExecutorInput): Promise<Executor> {
    const executor = new Executor();
    executor.name = validExecutorName('input.name', input.name);
    executor.description = validExecutorDescription('input.description', input.description);
    executor.tag = validExecutorTag('input.tag', input.tag);
    executor.host = validHost('input.host', input.host);
    executor.machineId = validMachineId('input.machineId', input.machineId);
    executor.publicKey = validPublicKey('input.publicKey', input.publicKey ?? null);
    executor.capacity = validCapacity('input.capacity', input.capacity);
    executor.isEnabled = input.isEnabled;
    return withUniqueConstraints(
      () =>
        ctx.em.transactional(async (em) => {
          await this.assertMachineIdFree(em, executor.machineId, null);
          em.persist(executor);
          await em.flush();
          recordAudit(em, ctx, {
            action: 'createExecutor',
            entityType: 'Executor',
            entityId: executor.id,
            before: null,
            after: executorSnapshot(executor),
          });
          return executor;
        }),
      uniqueMessages,
    );
  }

  async update(ctx: RequestContext, id: string, input: UpdateExecutorInput): Promise<Executor> {
    return withUniqueConstraints(
      () =>
        ctx.em.transactional(async (em) => {
          const executor = await this.get(em, id);
          const before = executorSnapshot(executor);
          if (isGiven(input.name)) executor.name = validExecutorName('input.name', input.name);
          if (isGiven(input.description)) {
            executor.description = validExecutorDescription('input.description', input.description);
          }
          if (isGiven(input.tag)) executor.tag = validExecutorTag('input.tag', input.tag);
          if (isGiven(input.host)) executor.host = validHost('input.host', input.host);
          if (isGiven(input.machineId) && input.machineId !== executor.machineId) {
            executor.machineId = validMachineId('input.machineId', input.machineId);
            await this.assertMachineIdFree(em, executor.machineId, executor.id);
          }
          if (input.publicKey !== undefined) {
            executor.publicKey = validPublicKey('input.publicKey', input.publicKey);
          }
          if (isGiven(input.capacity)) {
            executor.capacity = validCapacity('input.capacity', input.capacity);
          }
          if (isGiven(input.isEnabled)) executor.isEnabled = input.isEnabled;
          await em.flush();
          if (executor.isEnabled !== before.isEnabled || executor.publicKey !== before.publicKey) {
            // Its open assignment stream re-checks admission on this nudge (at commit).
            await em.execute(`select pg_notify('${channels.executors}', ?)`, [String(executor.id)]);
          }
          recordAudit(em, ctx, {
            action: 'updateExecutor',
            entityType: 'Executor',
            entityId: executor.id,
            before,
            after: executorSnapshot(executor),
          });
          return executor;
        }),
      uniqueMessages,
    );
  }

  /** Refused while bound: tasks reach executors through bindings, so they must go first. */
  async delete(ctx: RequestContext, id: string): Promise<number> {
    return ctx.em.transactional(async (em) => {
      // The row lock makes a concurrent createExecutorBinding wait for us (its foreign key
      // check needs a share lock), so no binding can appear between the count and the delete.
      const executor = await this.get(em, id, 'id', LockMode.PESSIMISTIC_WRITE);
      const bindings = await em.find(
        ExecutorBinding,
        { executor: executor.id },
        { populate: ['group'], orderBy: { id: 'asc' } },
      );
      if (bindings.length > 0) {
        const groups = bindings
          .slice(0, groupsNamedInRefusal)
          .map((binding) => `"${binding.group.name}"`)
          .join(', ');
        const more = bindings.length > groupsNamedInRefusal ? ' and more' : '';
        throw new ConflictError(
          `Executor "${executor.name}" still has ${bindings.length} binding(s), in group(s) ` +
            `${groups}${more}. Delete those bindings, or move them to another executor with ` +
            'updateExecutorBinding, then delete the executor.',
        );
      }
      const executorId = executor.id;
      // Its open assignment stream re-checks admission on this nudge (at commit).
      await em.execute(`select pg_notify('${channels.executors}', ?)`, [String(executorId)]);
      recordAudit(em, ctx, {
        action: 'deleteExecutor',
        entityType: 'Executor',
        entityId: executorId,
        before: executorSnapshot(executor),
        after: null,
      });
      em.remove(executor);
      await em.flush();
      return executorId;
    });
  }

  /** Names the holder so the admin knows which executor to change; suggests a free id. */
  private async assertMachineIdFree(
    em: EntityManager,
    machineId: number,
    exceptExecutorId: number | null,
  ): Promise<void> {
    const holder = await em.findOne(Executor, {
      machineId,
      ...(exceptExecutorId === null ? {} : { id: { $ne: exceptExecutorId } }),
    });
    if (!holder) return;
    const [free] = await em.execute<{ machine_id: number | null }[]>(
      `select min(candidate) as machine_id from generate_series(0, ${maxMachineId}) as candidate
        where not exists (select 1 from executors where machine_id = candidate)`,
    );
    const lowestFree = free?.machine_id ?? null;
    const suggestion =
      lowestFree === null
        ? `all ${maxMachineId + 1} are taken`
        : `the lowest free one is ${lowestFree}`;
    throw new ConflictError(
      `machineId ${machineId} is held by executor "${holder.name}" (id ${holder.id}); ` +
        `pick another from 0 to ${maxMachineId} (${suggestion}).`,
      { field: 'input.machineId' },
    );
  }
}
