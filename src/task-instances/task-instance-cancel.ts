import { LockMode } from '@mikro-orm/postgresql';
import { query } from '../database/sql.js';
import { recordAudit } from '../audit/audit-log.js';
import { assertOwnerOrAdmin, requirePrincipal } from '../auth/auth-checker.js';
import { channels } from '../pubsub/channels.js';
import type { RequestContext } from '../server/context.js';
import { ConflictError, NotFoundError } from '../shared/app-error.js';
import { parseBigId } from '../shared/validation.js';
import { Task } from '../tasks/task.entity.js';
import { TaskInstance } from './task-instance.entity.js';
import { TaskInstanceStatus } from './task-instance-status.js';

/**
 * Cancels a run. One that waits for dispatch ends at once; one on an executor gets a cancel
 * request, which reaches the executor over its subscription: it kills the run and reports
 * MANUAL_CANCELLATION.
 */
export async function cancelTaskInstance(ctx: RequestContext, id: string): Promise<TaskInstance> {
  const principal = requirePrincipal(ctx);
  return ctx.em.transactional(async (em) => {
    const instance = await em.findOne(
      TaskInstance,
      { id: parseBigId('id', id) },
      { lockMode: LockMode.PESSIMISTIC_WRITE },
    );
    if (!instance) throw new NotFoundError('TaskInstance', id);
    const task = instance.task ? await em.findOne(Task, { id: instance.task.id }) : null;
    assertOwnerOrAdmin(principal, task?.owner?.id, `run ${instance.id}`);
    const before = {
      status: TaskInstanceStatus[instance.status],
      cancelRequestedAt: instance.cancelRequestedAt,
    };
    switch (instance.status) {
      case TaskInstanceStatus.SCHEDULED:
        instance.status = TaskInstanceStatus.MANUAL_CANCELLATION;
        instance.finishedAt = new Date();
        instance.statusReason = `cancelled by ${principal.username} before it was dispatched`;
        break;
      case TaskInstanceStatus.DISPATCHED:
      case TaskInstanceStatus.RUNNING:
        instance.cancelRequestedAt ??= new Date();
        await query(em, `select pg_notify('${channels.assignments}', $1::text)`, [
          String(instance.executorId),
        ]);
        break;
      default:
        throw new ConflictError(
          `Run ${instance.id} already ended (${TaskInstanceStatus[instance.status]}).`,
        );
    }
    await query(em, `select pg_notify('${channels.instances}', $1::text)`, [instance.id]);
    recordAudit(em, ctx, {
      action: 'cancelTaskInstance',
      entityType: 'TaskInstance',
      entityId: instance.id,
      before,
      after: {
        status: TaskInstanceStatus[instance.status],
        cancelRequestedAt: instance.cancelRequestedAt,
      },
    });
    await em.flush();
    return instance;
  });
}
