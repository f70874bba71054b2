import type { EntityManager } from '@mikro-orm/postgresql';
import { recordAudit, type AuditActor } from '../audit/audit-log.js';
import { requirePrincipal } from '../auth/auth-checker.js';
import { newSecret, sha256 } from '../auth/secrets.js';
import { ExecutorBinding } from '../executor-bindings/executor-binding.entity.js';
import { ExecutorGroup } from '../executor-groups/executor-group.entity.js';
import type { RegisterExecutorInput } from '../executor-protocol/executor-report.inputs.js';
import type { CreatedEnrollmentToken } from '../executor-protocol/executor-report.types.js';
import type { RequestContext } from '../server/context.js';
import { ConflictError, NotFoundError, UnauthenticatedError } from '../shared/app-error.js';
import { withUniqueConstraints } from '../shared/db-errors.js';
import { integerInRange, parseId } from '../shared/validation.js';
import { User } from '../users/user.entity.js';
import { EnrollmentToken } from './enrollment-token.entity.js';
import { Executor } from './executor.entity.js';
import { executorSnapshot } from './executor.service.js';
import {
  maxMachineId,
  validCapacity,
  validExecutorDescription,
  validExecutorName,
  validExecutorTag,
  validHost,
  validPublicKey,
} from './executor.validation.js';

export const enrollmentTokenPrefix = 'gcenr_';

/** Lets executors register themselves with a one-time token an admin hands out. */
export class EnrollmentService {
  async createToken(
    ctx: RequestContext,
    groupId: string | null | undefined,
    expiresInSeconds: number,
  ): Promise<CreatedEnrollmentToken> {
    const principal = requirePrincipal(ctx);
    integerInRange('expiresInSeconds', expiresInSeconds, 60, 30 * 86_400);
    return ctx.em.transactional(async (em) => {
      let group: ExecutorGroup | null = null;
      // Omitted or null means no group; "" is a malformed id, which parseId refuses.
      if (groupId !== null && groupId !== undefined) {
        group = await em.findOne(ExecutorGroup, { id: parseId('groupId', groupId) });
        if (!group) throw new NotFoundError('ExecutorGroup', groupId, 'groupId');
      }
      return issueEnrollmentToken(em, ctx, {
        group,
        createdById: principal.userId,
        expiresInSeconds,
      });
    });
  }

  /**
   * Consumes the token and creates the executor (with the lowest free machine id), bound into
   * the token's group if it has one, in one transaction: a refused registration leaves the token
   * unused.
   */
  async register(ctx: RequestContext, input: RegisterExecutorInput): Promise<Executor> {
    const executor = new Executor();
    executor.name = validExecutorName('input.name', input.name);
    executor.description = validExecutorDescription('input.description', input.description);
    executor.tag = validExecutorTag('input.tag', input.tag);
    executor.host = validHost('input.host', input.host);
    executor.publicKey = validPublicKey('input.publicKey', input.publicKey);
    executor.capacity = validCapacity('input.capacity', input.capacity);
    return withUniqueConstraints(
      () =>
        ctx.em.transactional(async (em) => {
          const [token] = await em.execute<{ id: number; group_id: number | null }[]>(
            `update enrollment_tokens set used_at = now()
              where token_hash = ? and used_at is null and expires_at > now()
          returning id, group_id`,
            [sha256(input.enrollmentToken.trim())],
          );
          if (!token) {
            throw new UnauthenticatedError(
              'The enrollment token is unknown, already used or expired; ask an admin for a new one.',
            );
          }
          executor.machineId = await lowestFreeMachineId(em);
          em.persist(executor);
          await em.flush();
          await em.nativeUpdate(
            EnrollmentToken,
            { id: token.id },
            { usedByExecutorId: executor.id },
          );
          const actor = { principal: null, requestId: ctx.requestId };
          recordAudit(em, actor, {
            action: 'registerExecutor',
            entityType: 'Executor',
            entityId: executor.id,
            before: null,
            after: executorSnapshot(executor),
          });
          if (token.group_id !== null) {
            const binding = new ExecutorBinding();
            binding.name = executor.name;
            binding.group = em.getReference(ExecutorGroup, token.group_id);
            binding.executor = executor;
            em.persist(binding);
            await em.flush();
            recordAudit(em, actor, {
              action: 'registerExecutor',
              entityType: 'ExecutorBinding',
              entityId: binding.id,
              before: null,
              after: {
                name: binding.name,
                groupId: token.group_id,
                executorId: executor.id,
                weight: binding.weight,
              },
            });
          }
          return executor;
        }),
      {
        executors_name_unique: {
          field: 'input.name',
          message: 'Another executor has that name; pick another.',
        },
      },
    );
  }
}

/** Serialised by an advisory lock so that two registrations never pick the same id. */
async function lowestFreeMachineId(em: EntityManager): Promise<number> {
  await em.execute(`select pg_advisory_xact_lock(hashtext('graphcron.executor_machine_id'))`);
  const [row] = await em.execute<{ machine_id: number | null }[]>(
    `select min(candidate) as machine_id from generate_series(0, ${maxMachineId}) as candidate
      where not exists (select 1 from executors where machine_id = candidate)`,
  );
  if (row?.machine_id === null || row?.machine_id === undefined) {
    throw new ConflictError(
      `All ${maxMachineId + 1} machine ids are taken; delete an unused executor.`,
    );
  }
  return row.machine_id;
}

/** Stores a new enrollment token (its hash) in `em`'s transaction and returns the secret once. */
export async function issueEnrollmentToken(
  em: EntityManager,
  actor: AuditActor,
  options: { group: ExecutorGroup | null; createdById: number | null; expiresInSeconds: number },
): Promise<CreatedEnrollmentToken> {
  const token = newSecret(enrollmentTokenPrefix);
  const enrollment = new EnrollmentToken();
  enrollment.group = options.group;
  enrollment.tokenHash = sha256(token);
  enrollment.createdBy =
    options.createdById === null ? null : em.getReference(User, options.createdById);
  enrollment.expiresAt = new Date(Date.now() + options.expiresInSeconds * 1000);
  em.persist(enrollment);
  await em.flush();
  recordAudit(em, actor, {
    action: 'createEnrollmentToken',
    entityType: 'EnrollmentToken',
    entityId: enrollment.id,
    before: null,
    after: {
      groupId: enrollment.group?.id ?? null,
      expiresAt: enrollment.expiresAt,
      tokenHash: enrollment.tokenHash,
    },
  });
  return {
    token,
    expiresAt: enrollment.expiresAt,
    groupId: enrollment.group ? String(enrollment.group.id) : null,
  };
}
