import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../database/sql.js';
import type { ExecutorPrincipal } from '../auth/executor-principal.js';
import { channels } from '../pubsub/channels.js';
import type { RequestContext } from '../server/context.js';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../shared/app-error.js';
import { isGiven, parseBigId } from '../shared/validation.js';
import { retryableStatuses, retryEndedRuns } from '../scheduler/attempts.js';
import { TaskInstance } from '../task-instances/task-instance.entity.js';
import { TaskInstanceStatus } from '../task-instances/task-instance-status.js';
import type { ExecutorReportBatchInput } from './executor-report-batch.inputs.js';
import {
  ExecutorReportKind,
  type ExecutorReportBatchResult,
  type RefusedReport,
} from './executor-report-batch.types.js';
import type {
  AppendTaskLogsInput,
  ExecutorHeartbeatInput,
  LogChunkInput,
  ReportTaskFinishedInput,
  ReportTaskStartedInput,
} from './executor-report.inputs.js';
import type { AppendTaskLogsResult, ExecutorHeartbeatResult } from './executor-report.types.js';
import {
  assertValidFinished,
  assertValidLoad,
  assertValidStarted,
  logChunkProblem,
} from './executor-report.validation.js';
import type { HeartbeatBuffer } from './heartbeat-buffer.js';
import { finishRunsFunction, startRunsFunction } from './report-functions.sql.js';
import { executorRunFilter, reportedAttempt } from './reported-attempt.sql.js';
import type { NotificationBus } from '../pubsub/notification-bus.js';

export const maxLogChunksPerCall = 500;
/** Per batch: status reports of each kind, and log chunks in all. */
export const maxReportsPerBatch = 1000;
export const maxLogChunksPerBatch = 2000;
const maxResultLength = 64 * 1024;

const { DISPATCHED, RUNNING } = TaskInstanceStatus;

/**
 * The statements that look runs up by id from arrays (\`unnest($1)\`, \`= any($1)\`) are
 * planned at every call, not prepared: a prepared one gets a generic plan after five calls, made
 * with the table's size at the time, and kept until the table is next analyzed. On a new
 * database that plan is made while task_instances is tiny (a hash join over a sequential scan)
 * and kept while it grows: in a bench's first minute, finish reports read the whole table
 * (117 buffers a call on average, against 31 planned at every call; pg_stat_statements).
 * The start and finish statements, in every run's path, are session functions whose one
 * possible plan is kept (report-functions.sql.ts).
 */
const planEachCall = { prepare: false };

interface FenceRow {
  id: string;
  attempt: number;
  executor_id: number | null;
  status: TaskInstanceStatus;
}

interface Key {
  id: string;
  attempt: number;
}

/** A well-formed report's key, with its index in its input list. */
interface IndexedKey extends Key {
  index: number;
}

function keyText(key: Key): string {
  return `${key.id}/${key.attempt}`;
}

function isRetryable(status: TaskInstanceStatus): boolean {
  return (retryableStatuses as readonly TaskInstanceStatus[]).includes(status);
}

/** A report whose conditional statement matched nothing: a replay, or to be refused. */
interface Unmatched extends Key {
  kind: ExecutorReportKind;
}

/**
 * Reports from executors. Each kind is one set-based statement for the whole batch, fenced by
 * (instance, attempt, executor): a report for the current attempt applies once, a replay of it
 * changes nothing, and a report for a superseded attempt is refused (CONFLICT). A whole batch
 * is one transaction, so an executor's burst of reports costs one commit.
 */
export class ExecutorReportService {
  constructor(private readonly heartbeats: HeartbeatBuffer) {}

  async applyBatch(
    ctx: RequestContext,
    executor: ExecutorPrincipal,
    input: ExecutorReportBatchInput,
  ): Promise<ExecutorReportBatchResult> {
    for (const [field, list] of [
      ['input.acknowledged', input.acknowledged],
      ['input.started', input.started],
      ['input.logs', input.logs],
      ['input.finished', input.finished],
    ] as const) {
      if (list.length > maxReportsPerBatch) {
        throw new ValidationError(field, `Send at most ${maxReportsPerBatch} reports per call.`);
      }
    }
    const chunkCount = input.logs.reduce((sum, entry) => sum + entry.chunks.length, 0);
    if (chunkCount > maxLogChunksPerBatch) {
      throw new ValidationError(
        'input.logs',
        `Send at most ${maxLogChunksPerBatch} log chunks per call (got ${chunkCount}).`,
      );
    }
    const batch = new BatchApplication(executor.executorId, input);
    const apply = async (em: EntityManager): Promise<ExecutorReportBatchResult> => {
      await batch.acknowledge(em);
      await batch.start(em);
      await batch.appendLogs(em, input.logs);
      await batch.finish(em);
      await batch.explainUnmatched(em);
      return batch.result();
    };
    // A lone statement commits by itself: begin and commit around it were two of every report
    // call's three round trips. Several statements, or a failure that may start a retry (which
    // must commit with the failure), share one transaction and one commit.
    const result = await (batch.writeStatements() > 1 || batch.mayStartRetries()
      ? ctx.em.transactional(apply)
      : apply(ctx.em));
    batch.publishChanges(ctx.services.bus);
    return result;
  }

  async acknowledge(
    ctx: RequestContext,
    executor: ExecutorPrincipal,
    instanceId: string,
    attempt: number,
  ): Promise<boolean> {
    const { id } = singleKey('instanceId', instanceId, attempt);
    await this.applySingle(ctx, executor, { acknowledged: [{ instanceId: id, attempt }] });
    return true;
  }

  async started(
    ctx: RequestContext,
    executor: ExecutorPrincipal,
    input: ReportTaskStartedInput,
  ): Promise<TaskInstance> {
    const { id } = singleKey('input.instanceId', input.instanceId, input.attempt);
    await this.applySingle(ctx, executor, { started: [input] });
    return this.load(ctx.em, id);
  }

  async finished(
    ctx: RequestContext,
    executor: ExecutorPrincipal,
    input: ReportTaskFinishedInput,
  ): Promise<TaskInstance> {
    const { id } = singleKey('input.instanceId', input.instanceId, input.attempt);
    await this.applySingle(ctx, executor, { finished: [input] });
    return this.load(ctx.em, id);
  }

  async appendLogs(
    ctx: RequestContext,
    executor: ExecutorPrincipal,
    input: AppendTaskLogsInput,
  ): Promise<AppendTaskLogsResult> {
    singleKey('input.instanceId', input.instanceId, input.attempt);
    const result = await this.applySingle(ctx, executor, { logs: [input] });
    return { stored: result.storedLogChunks, duplicates: result.duplicateLogChunks };
  }

  async heartbeat(
    ctx: RequestContext,
    executor: ExecutorPrincipal,
    input: ExecutorHeartbeatInput,
  ): Promise<ExecutorHeartbeatResult> {
    const ids = input.runningInstanceIds.map((value, index) =>
      parseBigId(`input.runningInstanceIds[${index}]`, value),
    );
    if (isGiven(input.load)) assertValidLoad('input.load', input.load);
    this.heartbeats.record(executor.executorId);
    const isStillItsRun = executorRunFilter(
      '$2',
      [DISPATCHED, RUNNING],
      't.cancel_requested_at is null',
    );
    const abandoned =
      ids.length === 0
        ? []
        : await query<{ id: string }>(
            ctx.em,
            `select r.id::text as id from unnest($1::bigint[]) as r(id)
              where not exists (
                select 1 from task_instances t
                 where t.id = r.id and ${isStillItsRun})`,
            [ids, executor.executorId],
            planEachCall,
          );
    const [now] = await ctx.em.execute<{ now: Date }[]>('select now()');
    return { serverTime: new Date(now!.now), abandonedInstanceIds: abandoned.map((row) => row.id) };
  }

  /** One report through the batch path; its refusal becomes the mutation's error. */
  private async applySingle(
    ctx: RequestContext,
    executor: ExecutorPrincipal,
    reports: Partial<ExecutorReportBatchInput>,
  ): Promise<ExecutorReportBatchResult> {
    const result = await this.applyBatch(ctx, executor, {
      acknowledged: [],
      started: [],
      logs: [],
      finished: [],
      ...reports,
    });
    const [refused] = result.refused;
    if (refused) throw errorOf(refused, singleField(refused));
    return result;
  }

  private async load(em: EntityManager, id: string): Promise<TaskInstance> {
    const instance = await em.findOne(TaskInstance, { id }, { refresh: true });
    if (!instance) throw new NotFoundError('TaskInstance', id);
    return instance;
  }
}

/** The statements of one batch, and what each left unmatched or refused. */
class BatchApplication {
  private readonly refused: RefusedReport[] = [];
  private readonly unmatched: Unmatched[] = [];
  private storedLogChunks = 0;
  private duplicateLogChunks = 0;
  /** Refusals of reports that matched nothing (explainUnmatched); `refused` has the others. */
  private readonly explained: RefusedReport[] = [];
  private readonly acknowledging: IndexedKey[];
  private readonly starting: { key: IndexedKey; startedAt: Date }[] = [];
  /**
   * Started reports of runs whose finish is in the same batch (a short run's usual pair): the
   * finish statement records their start too, one row update instead of two.
   */
  private readonly startedWithFinish = new Map<string, Date>();
  private readonly logKeys: IndexedKey[];
  private readonly finishing: (ReportTaskFinishedInput & { key: IndexedKey })[];
  /** What the statements changed, published once they are committed. */
  private readonly changedInstances = new Set<string>();
  private isDispatchDue = false;

  /** Validates every report (refusing the malformed ones); no statement runs yet. */
  constructor(
    private readonly executorId: number,
    input: ExecutorReportBatchInput,
  ) {
    this.acknowledging = this.validKeys(
      ExecutorReportKind.ACKNOWLEDGED,
      'input.acknowledged',
      input.acknowledged,
    );
    const started = this.passing(
      ExecutorReportKind.STARTED,
      this.validKeys(ExecutorReportKind.STARTED, 'input.started', input.started),
      (key) => assertValidStarted(`input.started[${key.index}]`, input.started[key.index]!),
    );
    this.logKeys = this.validKeys(ExecutorReportKind.LOGS, 'input.logs', input.logs);
    this.finishing = this.passing(
      ExecutorReportKind.FINISHED,
      this.validKeys(ExecutorReportKind.FINISHED, 'input.finished', input.finished),
      (key) => assertValidFinished(`input.finished[${key.index}]`, input.finished[key.index]!),
    ).map((key) => ({ ...input.finished[key.index]!, key }));
    const finishingKeys = new Set(this.finishing.map((report) => keyText(report.key)));
    for (const key of started) {
      const { startedAt } = input.started[key.index]!;
      if (finishingKeys.has(keyText(key))) this.startedWithFinish.set(keyText(key), startedAt);
      else this.starting.push({ key, startedAt });
    }
  }

  /** Tells every replica what the batch changed: call it once it is committed. */
  publishChanges(bus: NotificationBus): void {
    for (const id of this.changedInstances) bus.publish(channels.instances, id);
    if (this.isDispatchDue) bus.publish(channels.dispatch);
  }

  /** How many writing statements the batch takes. */
  writeStatements(): number {
    return (
      (this.acknowledging.length > 0 ? 1 : 0) +
      (this.starting.length > 0 ? 1 : 0) +
      (this.logKeys.length > 0 ? 2 : 0) +
      (this.finishing.length > 0 ? 1 : 0)
    );
  }

  /** Whether a finish in the batch is a failure that may have retries left. */
  mayStartRetries(): boolean {
    return this.finishing.some((report) => isRetryable(report.status));
  }

  async acknowledge(em: EntityManager) {
    const keys = this.acknowledging;
    if (keys.length === 0) return;
    const rows = await query<Key>(
      em,
      `update task_instances t set acknowledged_at = coalesce(t.acknowledged_at, now())
         from unnest($1::bigint[], $2::int[]) as r(id, attempt)
        where ${reportedAttempt('$3')}
       returning t.id::text as id, t.attempt`,
      [keys.map((k) => k.id), keys.map((k) => k.attempt), this.executorId],
      planEachCall,
    );
    this.noteUnmatched(ExecutorReportKind.ACKNOWLEDGED, keys, rows);
  }

  async start(em: EntityManager) {
    if (this.starting.length === 0) return;
    const keys = this.starting.map((report) => report.key);
    const rows = await query<Key>(
      em,
      `select * from ${startRunsFunction}($1::bigint[], $2::int[], $3::timestamptz[], $4::int)`,
      [
        keys.map((k) => k.id),
        keys.map((k) => k.attempt),
        this.starting.map((report) => report.startedAt),
        this.executorId,
      ],
      { prepare: true },
    );
    this.noteUnmatched(ExecutorReportKind.STARTED, keys, rows);
    for (const row of rows) this.changedInstances.add(row.id);
  }

  /**
   * Chunks of an attempt this executor ran are stored even once it is superseded: what a lost
   * attempt printed is kept for inspection, under its own attempt number.
   */
  async appendLogs(em: EntityManager, entries: readonly AppendTaskLogsInput[]) {
    const keys = this.logKeys;
    if (keys.length === 0) return;
    const ran = await query<Key>(
      em,
      `select r.id::text as id, r.attempt from unnest($1::bigint[], $2::int[]) as r(id, attempt)
        where exists (select 1 from task_instances t
                       where ${reportedAttempt('$3')})
           or exists (select 1 from task_instance_attempts a
                       where a.instance_id = r.id and a.attempt = r.attempt and a.executor_id = $3)`,
      [keys.map((k) => k.id), keys.map((k) => k.attempt), this.executorId],
      planEachCall,
    );
    this.noteUnmatched(ExecutorReportKind.LOGS, keys, ran);
    const allowed = new Set(ran.map(keyText));
    const rows: (LogChunkInput & Key)[] = [];
    for (const key of keys) {
      if (!allowed.has(`${key.id}/${key.attempt}`)) continue;
      const entry = entries[key.index]!;
      if (entry.chunks.length > maxLogChunksPerCall) {
        this.refuse(
          ExecutorReportKind.LOGS,
          key,
          new ValidationError(
            `input.logs[${key.index}].chunks`,
            `Send at most ${maxLogChunksPerCall} chunks per call.`,
          ),
        );
        continue;
      }
      entry.chunks.forEach((chunk, index) => {
        const problem = logChunkProblem(chunk);
        if (problem === null) {
          rows.push({ ...chunk, id: key.id, attempt: key.attempt });
          return;
        }
        // The others are stored: the executor drops this chunk, and nothing else is lost.
        this.refuse(
          ExecutorReportKind.LOGS,
          key,
          new ValidationError(
            `input.logs[${key.index}].chunks[${index}]`,
            `Chunk ${index} (seq ${chunk.seq}) is refused: ${problem}. The other chunks were ` +
              'stored.',
          ),
        );
      });
    }
    if (rows.length === 0) return;
    const stored = await query<{ instance_id: string; stored: number }>(
      em,
      `with stored as (
         insert into task_logs (instance_id, attempt, seq, stream, content, emitted_at)
         select c.instance_id, c.attempt, c.seq, c.stream, c.content, c.emitted_at
           from unnest($1::bigint[], $2::int[], $3::int[], $4::text[], $5::text[], $6::timestamptz[])
                as c(instance_id, attempt, seq, stream, content, emitted_at)
         on conflict (instance_id, attempt, seq) do nothing
         returning instance_id)
       -- Notified at commit, not published after it: a live tail has no poll to find chunks
       -- whose notification was lost.
       select instance_id::text as instance_id, count(*)::int as stored,
              pg_notify('${channels.logs}', instance_id::text)
         from stored group by instance_id`,
      [
        rows.map((r) => r.id),
        rows.map((r) => r.attempt),
        rows.map((r) => r.seq),
        rows.map((r) => r.stream),
        rows.map((r) => r.content),
        rows.map((r) => r.emittedAt),
      ],
      { prepare: true },
    );
    const count = stored.reduce((sum, row) => sum + row.stored, 0);
    this.storedLogChunks += count;
    this.duplicateLogChunks += rows.length - count;
  }

  async finish(em: EntityManager) {
    const valid = this.finishing;
    if (valid.length === 0) return;
    const rows = await query<Key & { is_any_waiting: boolean }>(
      em,
      `select * from ${finishRunsFunction}($1::bigint[], $2::int[], $3::int[], $4::int[],
         $5::timestamptz[], $6::int[], $7::text[], $8::text[], $9::int, $10::timestamptz[])`,
      [
        valid.map((r) => r.key.id),
        valid.map((r) => r.key.attempt),
        valid.map((r) => r.status),
        valid.map((r) => r.exitCode ?? null),
        valid.map((r) => r.finishedAt),
        valid.map((r) => r.durationMs ?? null),
        valid.map((r) => (isGiven(r.result) ? lastChars(r.result, maxResultLength) : null)),
        valid.map((r) => (isGiven(r.statusReason) ? firstChars(r.statusReason, 2000) : null)),
        this.executorId,
        valid.map((r) => this.startedWithFinish.get(keyText(r.key)) ?? null),
      ],
      { prepare: true },
    );
    for (const row of rows) this.changedInstances.add(row.id);
    if (rows.some((row) => row.is_any_waiting)) this.isDispatchDue = true;
    const finishedKeys = valid.map((r) => r.key);
    this.noteUnmatched(ExecutorReportKind.FINISHED, finishedKeys, rows);
    // A start that rode on a finish which matched nothing is explained like its finish.
    this.noteUnmatched(
      ExecutorReportKind.STARTED,
      finishedKeys.filter((key) => this.startedWithFinish.has(keyText(key))),
      rows,
    );
    // A failed attempt with retries left becomes a new attempt in the same transaction (only
    // failures are looked at: a batch of successes costs no statement here).
    const failed = new Set(valid.filter((r) => isRetryable(r.status)).map((r) => r.key.id));
    const ended = rows.filter((row) => failed.has(row.id));
    if (ended.length > 0)
      await retryEndedRuns(
        em,
        ended.map((row) => row.id),
      );
  }

  /**
   * Why the unmatched statements matched nothing: the same attempt already past that state is
   * a replay and fine; anything else is refused.
   */
  async explainUnmatched(em: EntityManager): Promise<void> {
    if (this.unmatched.length === 0) return;
    const fences = await query<FenceRow>(
      em,
      `select id::text as id, attempt, executor_id, status from task_instances
        where id = any($1::bigint[])`,
      [[...new Set(this.unmatched.map((u) => u.id))]],
      planEachCall,
    );
    const byId = new Map(fences.map((row) => [row.id, row]));
    for (const report of this.unmatched) {
      const refusal = refusalOf(byId.get(report.id), report, this.executorId);
      if (refusal) this.explained.push(refusedReport(report.kind, report, refusal));
    }
  }

  /**
   * Refusals of malformed reports, then of reports that matched nothing, each kind by kind as
   * the input lists them (the checks ran in another order: finishes before starts, to pair them).
   */
  result(): ExecutorReportBatchResult {
    const order = Object.values(ExecutorReportKind);
    const byKind = (list: RefusedReport[]) =>
      list.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
    return {
      refused: [...byKind(this.refused), ...byKind(this.explained)],
      storedLogChunks: this.storedLogChunks,
      duplicateLogChunks: this.duplicateLogChunks,
    };
  }

  /** Reports with a well-formed instance id, with their index in the input list. */
  private validKeys(
    kind: ExecutorReportKind,
    field: string,
    reports: readonly { instanceId: string; attempt: number }[],
  ): IndexedKey[] {
    const keys: IndexedKey[] = [];
    reports.forEach((report, index) => {
      try {
        const id = parseBigId(`${field}[${index}].instanceId`, report.instanceId);
        keys.push({ id, attempt: report.attempt, index });
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        this.refuse(kind, { id: report.instanceId, attempt: report.attempt }, error);
      }
    });
    return keys;
  }

  /** The keys whose report passes `check`; the others are refused with the error it throws. */
  private passing<K extends Key & { index: number }>(
    kind: ExecutorReportKind,
    keys: readonly K[],
    check: (key: K) => void,
  ): K[] {
    return keys.filter((key) => {
      try {
        check(key);
        return true;
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        this.refuse(kind, key, error);
        return false;
      }
    });
  }

  private noteUnmatched(kind: ExecutorReportKind, sent: readonly Key[], matched: readonly Key[]) {
    const hit = new Set(matched.map(keyText));
    for (const key of sent) {
      if (!hit.has(keyText(key))) this.unmatched.push({ kind, id: key.id, attempt: key.attempt });
    }
  }

  private refuse(kind: ExecutorReportKind, key: Key, error: AppError): void {
    this.refused.push(refusedReport(kind, key, error));
  }
}

function refusedReport(kind: ExecutorReportKind, key: Key, error: AppError): RefusedReport {
  return {
    kind,
    instanceId: key.id,
    attempt: key.attempt,
    code: error.code,
    message: error.message,
    field: error instanceof ValidationError ? error.field : null,
  };
}

/** Why a report for `report` is refused, or null when it is a harmless replay. */
function refusalOf(row: FenceRow | undefined, report: Key, executorId: number): AppError | null {
  const { id, attempt } = report;
  if (!row) return new NotFoundError('TaskInstance', id);
  if (row.attempt !== attempt) {
    return new ConflictError(
      `Attempt ${attempt} of instance ${id} was superseded by attempt ${row.attempt}; drop this report.`,
      { currentAttempt: row.attempt },
    );
  }
  if (row.executor_id !== executorId) {
    return new ConflictError(
      `Instance ${id} (attempt ${attempt}) is assigned to another executor.`,
    );
  }
  if (row.status === TaskInstanceStatus.SCHEDULED) {
    return new ConflictError(`Instance ${id} is waiting for dispatch again; drop this report.`);
  }
  // Same attempt, same executor, already RUNNING or final: a replayed report. Nothing to do.
  return null;
}

function singleKey(field: string, instanceId: string, attempt: number): Key {
  return { id: parseBigId(field, instanceId), attempt };
}

/** A refused report of a single-report mutation, as the error that mutation throws. */
function errorOf(refused: RefusedReport, field: string | null): AppError {
  switch (refused.code) {
    case 'NOT_FOUND':
      return new NotFoundError('TaskInstance', refused.instanceId);
    case 'BAD_USER_INPUT':
      return new ValidationError(field ?? 'input', refused.message);
    default:
      return new ConflictError(refused.message);
  }
}

/** Field paths of the batch (`input.logs[0].chunks[1]`) as the single mutations name them. */
function singleField(refused: RefusedReport): string | null {
  return (
    refused.field?.replace(/^input\.(acknowledged|started|logs|finished)\[\d+\]/, 'input') ?? null
  );
}

/** The last `max` UTF-16 units of `text`, without the low half of a pair cut in two. */
function lastChars(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(-max);
  return /^[\uDC00-\uDFFF]/.test(cut) ? cut.slice(1) : cut;
}

/** The first `max` UTF-16 units of `text`, without the high half of a pair cut in two. */
function firstChars(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}
