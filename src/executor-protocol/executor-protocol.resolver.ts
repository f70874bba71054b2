import { Arg, Ctx, ID, Int, Mutation, Resolver, Root, Subscription } from 'type-graphql';
import { requireExecutor } from '../auth/require-executor.js';
import type { RequestContext } from '../server/context.js';
import { TaskInstance } from '../task-instances/task-instance.entity.js';
import {
  ExecutorAssignment,
  ExecutorCancellation,
  ExecutorMessage,
} from './executor-message.types.js';
import {
  AppendTaskLogsInput,
  ExecutorHeartbeatInput,
  ReportTaskFinishedInput,
  ReportTaskStartedInput,
} from './executor-report.inputs.js';
import { AppendTaskLogsResult, ExecutorHeartbeatResult } from './executor-report.types.js';
import { ExecutorReportBatchInput } from './executor-report-batch.inputs.js';
import { ExecutorReportBatchResult } from './executor-report-batch.types.js';
import { ReconcileExecutorRunsInput } from './executor-reconciliation.inputs.js';
import { ReconcileExecutorRunsResult } from './executor-reconciliation.types.js';

/** What executors call. Every operation needs an executor token (see design.md, protocol). */
@Resolver()
export class ExecutorProtocolResolver {
  @Subscription(() => ExecutorMessage, {
    description:
      'Assignments and cancellations for the calling executor: first every one not yet ' +
      'acknowledged, then new ones as they come. Delivery is at least once.',
    subscribe: ({ context }) => {
      const ctx = context as RequestContext;
      return ctx.services.assignments.subscribe(
        requireExecutor(ctx).executorId,
        ctx.closeConnection,
      );
    },
  })
  executorAssignments(
    @Root() message: ExecutorAssignment | ExecutorCancellation,
  ): ExecutorAssignment | ExecutorCancellation {
    return message;
  }

  @Mutation(() => ExecutorReportBatchResult, {
    description:
      'Many reports in one call and one transaction (what the executor program sends): each ' +
      'is applied as its single mutation would be, and the refused ones are listed instead of ' +
      'failing the call. Limits: 1000 reports of each kind, 2000 log chunks.',
  })
  submitExecutorReports(
    @Arg('input', () => ExecutorReportBatchInput) input: ExecutorReportBatchInput,
    @Ctx() ctx: RequestContext,
  ): Promise<ExecutorReportBatchResult> {
    return ctx.services.executorReports.applyBatch(ctx, requireExecutor(ctx), input);
  }

  @Mutation(() => Boolean, { description: 'Stops the replay of an assignment on reconnect.' })
  acknowledgeAssignment(
    @Arg('instanceId', () => ID) instanceId: string,
    @Arg('attempt', () => Int) attempt: number,
    @Ctx() ctx: RequestContext,
  ): Promise<boolean> {
    return ctx.services.executorReports.acknowledge(ctx, requireExecutor(ctx), instanceId, attempt);
  }

  @Mutation(() => TaskInstance, { description: 'Idempotent; CONFLICT for a superseded attempt.' })
  reportTaskStarted(
    @Arg('input', () => ReportTaskStartedInput) input: ReportTaskStartedInput,
    @Ctx() ctx: RequestContext,
  ): Promise<TaskInstance> {
    return ctx.services.executorReports.started(ctx, requireExecutor(ctx), input);
  }

  @Mutation(() => AppendTaskLogsResult, {
    description:
      'Stores log chunks; a chunk already stored (same attempt and seq) is skipped. A chunk over ' +
      'the size limit is refused with BAD_USER_INPUT and the others are kept.',
  })
  appendTaskLogs(
    @Arg('input', () => AppendTaskLogsInput) input: AppendTaskLogsInput,
    @Ctx() ctx: RequestContext,
  ): Promise<AppendTaskLogsResult> {
    return ctx.services.executorReports.appendLogs(ctx, requireExecutor(ctx), input);
  }

  @Mutation(() => TaskInstance, { description: 'Idempotent; CONFLICT for a superseded attempt.' })
  reportTaskFinished(
    @Arg('input', () => ReportTaskFinishedInput) input: ReportTaskFinishedInput,
    @Ctx() ctx: RequestContext,
  ): Promise<TaskInstance> {
    return ctx.services.executorReports.finished(ctx, requireExecutor(ctx), input);
  }

  @Mutation(() => ExecutorHeartbeatResult, { description: 'Send every few seconds while running.' })
  executorHeartbeat(
    @Arg('input', () => ExecutorHeartbeatInput) input: ExecutorHeartbeatInput,
    @Ctx() ctx: RequestContext,
  ): Promise<ExecutorHeartbeatResult> {
    return ctx.services.executorReports.heartbeat(ctx, requireExecutor(ctx), input);
  }

  @Mutation(() => ReconcileExecutorRunsResult, {
    description:
      'What an executor process calls before it subscribes, with every run it has a record ' +
      'of. Runs acknowledged by or running on it that are not listed were lost (a machine ' +
      'crash took its journal): they end ABNORMAL_ENDING, and are retried where their task ' +
      'allows. Runs assigned but not yet acknowledged are left alone (they are sent again).',
  })
  reconcileExecutorRuns(
    @Arg('input', () => ReconcileExecutorRunsInput) input: ReconcileExecutorRunsInput,
    @Ctx() ctx: RequestContext,
  ): Promise<ReconcileExecutorRunsResult> {
    return ctx.services.executorReconciliation.reconcile(ctx, requireExecutor(ctx), input);
  }
}
