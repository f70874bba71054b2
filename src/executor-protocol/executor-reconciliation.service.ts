import type { ExecutorPrincipal } from '../auth/executor-principal.js';
import { query } from '../database/sql.js';
import { channels } from '../pubsub/channels.js';
import { retryEndedRuns } from '../scheduler/attempts.js';
import type { RequestContext } from '../server/context.js';
import { ValidationError } from '../shared/app-error.js';
import { parseBigId } from '../shared/validation.js';
import { TaskInstanceStatus } from '../task-instances/task-instance-status.js';
import type { ReconcileExecutorRunsInput } from './executor-reconciliation.inputs.js';
import type { ReconcileExecutorRunsResult } from './executor-reconciliation.types.js';

const { DISPATCHED, RUNNING, ABNORMAL_ENDING, MANUAL_CANCELLATION } = TaskInstanceStatus;

/** More than an executor's runs and a long outage's undelivered final reports. */
export const maxKnownRuns = 100_000;

/**
 * What an executor process says before it subscribes: the runs it has a record of. A run the
 * server has as acknowledged by, or running on, that executor and missing from the list was
 * lost with the executor's memory and journal (a machine crash takes the journal's writes that
 * were not yet on disk; a state folder can be wiped or restored from an old copy): nobody will
 * ever report it, so it ends here, as the journal's own recovery would have ended it.
 *
 * Sound without any timing margin because of the order on the executor: a run is in its memory
 * from its assignment until its final report is in the outbox, and in the outbox until the
 * server took that report; and it is asked before the subscription starts, so no assignment
 * can arrive, and be acknowledged, between the list and this statement. Runs assigned but not
 * acknowledged are left alone: the subscription sends them again.
 */
export class ExecutorReconciliationService {
  async reconcile(
    ctx: RequestContext,
    executor: ExecutorPrincipal,
    input: ReconcileExecutorRunsInput,
  ): Promise<ReconcileExecutorRunsResult> {
    if (input.knownRuns.length > maxKnownRuns) {
      throw new ValidationError(
        'input.knownRuns',
        `Send at most ${maxKnownRuns} runs (got ${input.knownRuns.length}).`,
      );
    }
    const ids = input.knownRuns.map((run, index) =>
      parseBigId(`input.knownRuns[${index}].instanceId`, run.instanceId),
    );
    const attempts = input.knownRuns.map((run, index) => {
      if (run.attempt < 1) {
        throw new ValidationError(
          `input.knownRuns[${index}].attempt`,
          `input.knownRuns[${index}].attempt must be 1 or more; got ${run.attempt}.`,
        );
      }
      return run.attempt;
    });
    const ended = await ctx.em.transactional(async (tx) => {
      const rows = await query<{ id: string }>(
        tx,
        `with lost as (
           update task_instances t
              set status = case when t.cancel_requested_at is null
                                then ${ABNORMAL_ENDING} else ${MANUAL_CANCELLATION} end,
                  finished_at = now(), updated_at = now(),
                  status_reason = 'executor ' || e.name || ' started again without a record of '
                    || 'this run (its run journal lost it, as in a machine crash): its outcome '
                    || 'is unknown'
             from executors e
            where e.id = $1 and t.executor_id = $1
              and t.status in (${DISPATCHED}, ${RUNNING})
              and (t.status = ${RUNNING} or t.acknowledged_at is not null)
              and not exists (select 1 from unnest($2::bigint[], $3::int[]) as k(id, attempt)
                               where k.id = t.id and k.attempt = t.attempt)
        returning t.id)
         -- A slot of this executor came free.
         select id::text as id, pg_notify('${channels.instances}', id::text),
                pg_notify('${channels.dispatch}', '')
           from lost`,
        [executor.executorId, ids, attempts],
      );
      const endedIds = rows.map((row) => row.id);
      await retryEndedRuns(tx, endedIds);
      return endedIds;
    });
    if (ended.length > 0) {
      ctx.services.logger.warn('an executor started again without a record of its runs', {
        executorId: executor.executorId,
        endedRuns: ended.length,
      });
    }
    return { endedInstanceIds: ended };
  }
}
