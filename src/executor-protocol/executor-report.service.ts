import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../database/sql.js';
import type { ExecutorPrincipal } from '../auth/executor-principal.js';
import { channels } from '../pubsub/channels.js';
import type { RequestContext } from '../server/context.js';
import { ConflictError, NotFoundError, ValidationError } from '../shared/app-error.js';
import { parseBigId } from '../shared/validation.js';
import { retryEndedRuns } from '../scheduler/attempts.js';
import { TaskInstance } from '../task-instances/task-instance.entity.js';
import { TaskInstanceStatus } from '../task-instances/task-instance-status.js';
import type {
  AppendTaskLogsInput,
  ExecutorHeartbeatInput,
  ReportTaskFinishedInput,
  ReportTaskStartedInput,
} from './executor-report.inputs.js';
import type { AppendTaskLogsResult, ExecutorHeartbeatResult } from './executor-report.types.js';
import type { HeartbeatBuffer } from './heartbeat-buffer.js';

export const maxLogChunkBytes = 64 * 1024;
export const maxLogChunksPerCall = 500;
const maxResultLength = 64 * 1024;

const { DISPATCHED, RUNNING, UNKNOWN } = TaskInstanceStatus;
const reportableFinalStatuses = [
  TaskInstanceStatus.FINISHED,
  TaskInstanceStatus.ABNORMAL_ENDING,
  TaskInstanceStatus.TIMEOUT_ENDING,
  TaskInstanceStatus.MANUAL_CANCELLATION,
];

interface FenceRow {
  attempt: number;
  executor_id: number | null;
  status: TaskInstanceStatus;
}

/**
 * Reports from executors. Each is one conditional statement fenced by (instance, attempt,
 * executor): a report for the current attempt applies once, a replay of it changes nothing,
 * and a report for a superseded attempt is refused with CONFLICT.
 */
export class ExecutorReportService {
  constructor(private readonly heartbeats: HeartbeatBuffer) {}

  async acknowledge(
    ctx: RequestContext,
    executor: ExecutorPrincipal,
    instanceId: string,
    attempt: number,
  ): Promise<boolean> {
    const id = parseBigId('instanceId', instanceId);
    const rows = await query<{ id: string }>(
      ctx.em,
      `update task_instances set acknowledged_at = coalesce(acknowledged_at, now())
        where id = $1 and attempt = $2 and executor_id = $3 returning id`,
      [id, attempt, executor.executorId],
    );
    if (rows.length === 0) await this.explainRefusal(ctx.em, id, attempt, executor);
    return true;
  }

  async started(
    ctx: RequestContext,
    executor: ExecutorPrincipal,
    input: ReportTaskStartedInput,
  ): Promise<TaskInstance> {
    const id = parseBigId('input.instanceId', input.instanceId);
    const rows = await query<{ id: string }>(
      ctx.em,
      `with changed as (
         update task_instances
            set status = ${RUNNING}, started_at = $1, acknowledged_at = coalesce(acknowledged_at, now()),
                updated_at = now()
          where id = $2 and attempt = $3 and executor_id = $4 and status = ${DISPATCHED}
      returning id)
       select id, pg_notify('${channels.instances}', id::text) from changed`,
      [input.startedAt, id, input.attempt, executor.executorId],
    );
    if (rows.length === 0) await this.explainRefusal(ctx.em, id, input.attempt, executor);
    return this.load(ctx.em, id);
  }

  async finished(
    ctx: RequestContext,
    executor: ExecutorPrincipal,
    input: ReportTaskFinishedInput,
  ): Promise<TaskInstance> {
    const id = parseBigId('input.instanceId', input.instanceId);
    if (!reportableFinalStatuses.includes(input.status)) {
      throw new ValidationError(
        'input.status',
        'status must be FINISHED, ABNORMAL_ENDING, TIMEOUT_ENDING or MANUAL_CANCELLATION.',
      );
    }
    const rows = await ctx.em.transactional(async (em) => {
      const changed = await query<{ id: string }>(
        em,
        `with changed as (
         update task_instances
            set status = $1, exit_code = $2, finished_at = $3, duration_ms = $4, result = $5,
                status_reason = $6, started_at = coalesce(started_at, $7::timestamptz), updated_at = now()
          -- UNKNOWN: the server lost track of this attempt, but its executor knows how it ended.
          where id = $8 and attempt = $9 and executor_id = $10 and status in (${DISPATCHED}, ${RUNNING}, ${UNKNOWN})
      returning id)
       select id, pg_notify('${channels.instances}', id::text),
              pg_notify('${channels.dispatch}', '')
         from changed`,
        [
          input.status,
          input.exitCode ?? null,
          input.finishedAt,
          input.durationMs ?? null,
          input.result?.slice(-maxResultLength) ?? null,
          input.statusReason?.slice(0, 2000) ?? null,
          input.finishedAt,
          id,
          input.attempt,
          executor.executorId,
        ],
      );
      // A failed attempt with retries left becomes a new attempt in the same transaction.
      if (changed.length > 0) await retryEndedRuns(em, [id]);
      return changed;
    });
    if (rows.length === 0) await this.explainRefusal(ctx.em, id, input.attempt, executor);
    return this.load(ctx.em, id);
  }

  async appendLogs(
    ctx: RequestContext,
    executor: ExecutorPrincipal,
    input: AppendTaskLogsInput,
  ): Promise<AppendTaskLogsResult> {
    const id = parseBigId('input.instanceId', input.instanceId);
    if (input.chunks.length > maxLogChunksPerCall) {
      throw new ValidationError(
        'input.chunks',
        `Send at most ${maxLogChunksPerCall} chunks per call.`,
      );
    }
    const fence = await this.fence(ctx.em, id);
    if (!fence || fence.attempt !== input.attempt || fence.executor_id !== executor.executorId) {
      await this.explainRefusal(ctx.em, id, input.attempt, executor);
    }
    const accepted = input.chunks.filter((chunk) => isStorable(chunk.seq, chunk.content));
    const stored =
      accepted.length === 0
        ? []
        : await query<{ seq: number }>(
            ctx.em,
            `with stored as (
               insert into task_logs (instance_id, attempt, seq, stream, content, emitted_at)
               select $1::bigint, $2::int, c.seq, c.stream, c.content, c.emitted_at
                 from unnest($3::int[], $4::text[], $5::text[], $6::timestamptz[])
                      as c(seq, stream, content, emitted_at)
               on conflict (instance_id, attempt, seq) do nothing
               returning seq)
             select seq, pg_notify('${channels.logs}', $7::text) from stored`,
            [
              id,
              input.attempt,
              accepted.map((c) => c.seq),
              accepted.map((c) => c.stream),
              accepted.map((c) => c.content),
              accepted.map((c) => c.emittedAt),
              id,
            ],
          );
    const refused = input.chunks.findIndex((chunk) => !isStorable(chunk.seq, chunk.content));
    if (refused >= 0) {
      // The others are stored: the executor drops this report, and nothing else is lost.
      throw new ValidationError(
        `input.chunks[${refused}]`,
        `Chunk ${refused} (seq ${input.chunks[refused]!.seq}) is refused: seq must be 0 or more and ` +
          `content at most ${maxLogChunkBytes} bytes, without NUL characters; split long output. ` +
          'The other chunks were stored.',
      );
    }
    return { stored: stored.length, duplicates: accepted.length - stored.length };
  }

  async heartbeat(
    ctx: RequestContext,
    executor: ExecutorPrincipal,
    input: ExecutorHeartbeatInput,
  ): Promise<ExecutorHeartbeatResult> {
    const ids = input.runningInstanceIds.map((value, index) =>
      parseBigId(`input.runningInstanceIds[${index}]`, value),
    );
    this.heartbeats.record(executor.executorId);
    const abandoned =
      ids.length === 0
        ? []
        : await query<{ id: string }>(
            ctx.em,
            `select r.id::text as id from unnest($1::bigint[]) as r(id)
              where not exists (
                select 1 from task_instances t
                 where t.id = r.id and t.executor_id = $2 and t.status in (${DISPATCHED}, ${RUNNING})
                   and t.cancel_requested_at is null)`,
            [ids, executor.executorId],
          );
    const [now] = await ctx.em.execute<{ now: Date }[]>('select now()');
    return { serverTime: new Date(now!.now), abandonedInstanceIds: abandoned.map((row) => row.id) };
  }

  private async fence(em: EntityManager, id: string): Promise<FenceRow | undefined> {
    const [row] = await em.execute<FenceRow[]>(
      'select attempt, executor_id, status from task_instances where id = ?',
      [id],
    );
    return row;
  }

  /**
   * A conditional update matched nothing: say why. The same attempt already past that state is
   * a replay and fine; anything else is refused.
   */
  private async explainRefusal(
    em: EntityManager,
    id: string,
    attempt: number,
    executor: ExecutorPrincipal,
  ): Promise<void> {
    const row = await this.fence(em, id);
    if (!row) throw new NotFoundError('TaskInstance', id);
    if (row.attempt !== attempt) {
      throw new ConflictError(
        `Attempt ${attempt} of instance ${id} was superseded by attempt ${row.attempt}; drop this report.`,
        { currentAttempt: row.attempt },
      );
    }
    if (row.executor_id !== executor.executorId) {
      throw new ConflictError(
        `Instance ${id} (attempt ${attempt}) is assigned to another executor.`,
      );
    }
    if (row.status === TaskInstanceStatus.SCHEDULED) {
      throw new ConflictError(`Instance ${id} is waiting for dispatch again; drop this report.`);
    }
    // Same attempt, same executor, already RUNNING or final: a replayed report. Nothing to do.
  }

  private async load(em: EntityManager, id: string): Promise<TaskInstance> {
    const instance = await em.findOne(TaskInstance, { id }, { refresh: true });
    if (!instance) throw new NotFoundError('TaskInstance', id);
    return instance;
  }
}

function isStorable(seq: number, content: string): boolean {
  return (
    Number.isInteger(seq) && seq >= 0 && Buffer.byteLength(content, 'utf8') <= maxLogChunkBytes
  );
}
