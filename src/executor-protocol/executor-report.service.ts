import type { ExecutorPrincipal } from '../auth/executor-principal.js';
import type { RequestContext } from '../server/context.js';
import type { TaskInstance } from '../task-instances/task-instance.entity.js';
import type {
  AppendTaskLogsInput,
  ExecutorHeartbeatInput,
  ReportTaskFinishedInput,
  ReportTaskStartedInput,
} from './executor-report.inputs.js';
import type { AppendTaskLogsResult, ExecutorHeartbeatResult } from './executor-report.types.js';

/** Reports from executors: every change fenced by (instance, attempt, executor), idempotent. */
export class ExecutorReportService {
  async acknowledge(
    _ctx: RequestContext,
    _executor: ExecutorPrincipal,
    _instanceId: string,
    _attempt: number,
  ): Promise<boolean> {
    throw new Error('not implemented');
  }

  async started(
    _ctx: RequestContext,
    _executor: ExecutorPrincipal,
    _input: ReportTaskStartedInput,
  ): Promise<TaskInstance> {
    throw new Error('not implemented');
  }

  async appendLogs(
    _ctx: RequestContext,
    _executor: ExecutorPrincipal,
    _input: AppendTaskLogsInput,
  ): Promise<AppendTaskLogsResult> {
    throw new Error('not implemented');
  }

  async finished(
    _ctx: RequestContext,
    _executor: ExecutorPrincipal,
    _input: ReportTaskFinishedInput,
  ): Promise<TaskInstance> {
    throw new Error('not implemented');
  }

  async heartbeat(
    _ctx: RequestContext,
    _executor: ExecutorPrincipal,
    _input: ExecutorHeartbeatInput,
  ): Promise<ExecutorHeartbeatResult> {
    throw new Error('not implemented');
  }
}
