import { Repeater } from '@graphql-yoga/subscription';
import { query } from '../database/sql.js';
import type { MikroORM } from '@mikro-orm/postgresql';
import { channels } from '../pubsub/channels.js';
import type { NotificationBus } from '../pubsub/notification-bus.js';
import { UnauthenticatedError } from '../shared/app-error.js';
import { TickBatcher } from '../shared/tick-batcher.js';
import type { Logger } from '../shared/logger.js';
import { TaskInstanceStatus } from '../task-instances/task-instance-status.js';
import { TaskInstanceTrigger } from '../task-instances/task-instance-trigger.js';
import { toEnvironmentList, toHttpRequest } from '../tasks/task-spec.mapping.js';
import { maxCapacity } from '../executors/executor.validation.js';
import { ExecutorAssignment, ExecutorCancellation } from './executor-message.types.js';
import {
  byExecutor,
  pendingColumns,
  type AddressedRow,
  type PendingRow,
} from './pending-message.js';

type ExecutorMessage = ExecutorAssignment | ExecutorCancellation;

const { DISPATCHED, RUNNING } = TaskInstanceStatus;
/** How long after a stream's error its socket is closed: the error is sent first. */
const closeAfterErrorMs = 100;
/**
 * What an executor still has to hear: unacknowledged assignments and open cancellations. Both
 * are in flight: said first, so that the small index of runs in flight serves the read.
 */
const pendingCondition = `(status in (${DISPATCHED}, ${RUNNING})
  and ((status = ${DISPATCHED} and acknowledged_at is null) or cancel_requested_at is not null))`;

export interface AssignmentFeedOptions {
  /** How often the database is polled for anything a lost notification missed. */
  backstopIntervalMs: number;
  /** Most messages read per query; the rest follow once these are consumed. */
  batchSize: number;
}

/**
 * The `executorAssignments` streams of the executors connected to this replica. The database is
 * the queue: a stream re-reads what its executor has not acknowledged whenever it is nudged (a
 * NOTIFY, the backstop poll, a reconnect of the notification connection) and sends what it has
 * not sent yet. A new subscription therefore replays everything unacknowledged first.
 */
/** One open `executorAssignments` stream, as the feeds reach it. */
interface Stream {
  /** Something may be pending for its executor: re-read. */
  nudge(): void;
  /** Its executor's row changed: check it may still connect before anything else. */
  recheck(): void;
  /** Assignments just committed for its executor: sent without a read. */
  offer(rows: readonly PendingRow[]): void;
  /** The public key the executor connected with (null until read). */
  admittedKey: string | null;
}

export class AssignmentFeeds {
  private readonly streams = new Map<number, Set<Stream>>();
  /** Streams that look in the same tick share one query (a dispatch pass wakes many). */
  private readonly pendingLoader = new TickBatcher<number, PendingRow[]>((ids) =>
    this.loadPending(ids),
  );
  private readonly stops: (() => void)[] = [];

  constructor(
    private readonly orm: MikroORM,
    private readonly bus: NotificationBus,
    private readonly logger: Logger,
    // A read covers everything an executor can have in flight (its capacity, at most
    // maxCapacity): with a smaller window, unacknowledged assignments at its head held newer
    // ones back, and a stream re-read the same rows in a loop (cron fires sent ahead of their
    // time, up to 256 per executor in the bench, made that happen under load).
    private readonly options: AssignmentFeedOptions = {
      backstopIntervalMs: 2_000,
      batchSize: maxCapacity,
    },
  ) {}

  start(): void {
    this.stops.push(
      this.bus.on(channels.assignments, (payload) => this.nudge(Number(payload))),
      // Disabled, deleted or re-keyed (executor.service notifies at commit).
      this.bus.on(channels.executors, (payload) => this.recheck(Number(payload))),
      this.bus.onReconnect(() => this.recheckAll()),
    );
    const timer = setInterval(() => void this.backstop(), this.options.backstopIntervalMs);
    timer.unref();
    this.stops.push(() => clearInterval(timer));
  }

  stop(): void {
    for (const stop of this.stops.splice(0)) stop();
  }

  /**
   * `closeConnection` (WebSocket only) is called when the executor is found no longer admitted:
   * its socket also carries its reports, and must not outlive its admission.
   */
  subscribe(
    executorId: number,
    closeConnection?: (code: number, reason: string) => void,
  ): AsyncIterable<ExecutorMessage> {
    return new Repeater<ExecutorMessage>(async (push, stop) => {
      let nudged = true;
      // Admission is checked on connect and whenever the executor's row may have changed, not
      // on every nudge: under load that was a query per dispatch per executor.
      let isRecheckDue = false;
      let wake: () => void = () => undefined;
      let stopped = false;
      const offered: PendingRow[] = [];
      const stream: Stream = {
        nudge: () => {
          nudged = true;
          wake();
        },
        recheck: () => {
          isRecheckDue = true;
          nudged = true;
          wake();
        },
        offer: (rows) => {
          offered.push(...rows);
          wake();
        },
        admittedKey: null,
      };
      void stop.then(() => {
        stopped = true;
        wake();
      });
      this.register(executorId, stream);
      stream.admittedKey = await this.publicKeyOf(executorId);
      await this.markOnline(executorId);
      // instance id → attempt (or `cancel:` + attempt) already sent on this stream.
      let sent = new Map<string, string>();
      try {
        while (!stopped) {
          if (!nudged && offered.length === 0) {
            await new Promise<void>((resolve) => (wake = resolve));
          }
          if (stopped) break;
          // The socket was authenticated when it connected; an executor disabled, deleted or
          // given a new key since then loses its stream now (and its reconnect is refused).
          if (isRecheckDue) {
            isRecheckDue = false;
            if (!(await this.stillAdmitted(executorId, stream.admittedKey))) {
              const reason = `Executor ${executorId} is disabled, deleted or re-keyed.`;
              stop(new UnauthenticatedError(reason));
              // 4403, as a refused connection (its reconnect is refused anyway), once the
              // stream's error has gone out.
              setTimeout(() => closeConnection?.(4403, reason), closeAfterErrorMs).unref();
              break;
            }
          }
          // Committed before they were offered: a read from now on would return them too (until
          // they are acknowledged), so `sent` keeps them and that read skips them.
          if (offered.length > 0 && !nudged) {
            for (const row of offered.splice(0)) {
              const key = messageKey(row);
              if (sent.get(row.id) === key) continue;
              sent.set(row.id, key);
              await push(toMessage(row));
              if (stopped) break;
            }
            // Only a read forgets what was acknowledged since: one now and then, or `sent`
            // would grow for as long as offers alone keep the stream busy.
            if (sent.size > 2 * this.options.batchSize) nudged = true;
            continue;
          }
          // A read covers what was offered meanwhile.
          offered.length = 0;
          nudged = false;
          const rows = await this.pending(executorId);
          const stillPending = new Map<string, string>();
          let isAnyNew = false;
          for (const row of rows) {
            const key = messageKey(row);
            stillPending.set(row.id, key);
            if (sent.get(row.id) === key) continue;
            isAnyNew = true;
            await push(toMessage(row));
            if (stopped) break;
          }
          sent = stillPending;
          // A full read that sent something new: there may be more behind it. (One that sent
          // nothing new would read the same rows again: wait for the next nudge.)
          if (rows.length >= this.options.batchSize && isAnyNew) nudged = true;
        }
      } catch (error) {
        this.logger.error('assignment stream failed', { executorId, error });
        stop(error);
      } finally {
        this.unregister(executorId, stream);
      }
    });
  }

  /**
   * Hands assignments just committed to the streams of their executors connected here, which
   * send them without reading them back (a query per dispatch pass, and its wait, on the way
   * from `runTask` to the executor). Returns the executors with no stream here.
   */
  deliver(rows: readonly AddressedRow[]): Set<number> {
    const elsewhere = new Set<number>();
    for (const [executorId, list] of byExecutor(rows)) {
      const streams = this.streams.get(executorId);
      if (!streams) {
        elsewhere.add(executorId);
        continue;
      }
      for (const stream of streams) stream.offer(list);
    }
    return elsewhere;
  }

  private async publicKeyOf(executorId: number): Promise<string | null> {
    const [row] = await query<{ public_key: string | null }>(
      this.orm.em.fork(),
      'select public_key from executors where id = $1 and is_enabled',
      [executorId],
      { prepare: true },
    );
    return row?.public_key ?? null;
  }

  private async stillAdmitted(executorId: number, admittedKey: string | null): Promise<boolean> {
    const key = await this.publicKeyOf(executorId);
    return key !== null && key === admittedKey;
  }

  /** What `executorId` still has to hear (one query per dispatch pass, not per executor). */
  private async pending(executorId: number): Promise<PendingRow[]> {
    return (await this.pendingLoader.get(executorId)) ?? [];
  }

  private async loadPending(executorIds: number[]): Promise<Map<number, PendingRow[]>> {
    const rows = await query<AddressedRow>(
      this.orm.em.fork(),
      `select * from (
         select ${pendingColumns}, row_number() over (partition by executor_id order by id) as position
           from task_instances
          where executor_id = any($1::int[]) and ${pendingCondition}) pending
        where position <= ${this.options.batchSize}
        order by executor_id, id::bigint`,
      [executorIds],
      { prepare: true },
    );
    return byExecutor(rows);
  }

  /** A subscribed executor can take work at once, before its first heartbeat lands. */
  private async markOnline(executorId: number): Promise<void> {
    await query(
      this.orm.em.fork(),
      `with changed as (
         update executors set is_online = true, last_heartbeat_at = now()
          where id = $1 and not is_online returning id)
       select pg_notify('${channels.executors}', id::text), pg_notify('${channels.dispatch}', '')
         from changed`,
      [executorId],
    );
  }

  private async backstop(): Promise<void> {
    const ids = [...this.streams.keys()];
    if (ids.length === 0) return;
    try {
      const em = this.orm.em.fork();
      const rows = await query<{ executor_id: number }>(
        em,
        `select distinct executor_id from task_instances
          where executor_id = any($1::int[]) and ((status = ${DISPATCHED} and acknowledged_at is null)
             or (cancel_requested_at is not null and status in (${DISPATCHED}, ${RUNNING})))`,
        [ids],
      );
      for (const row of rows) this.nudge(row.executor_id);
      // A lost notification of a disabled or re-keyed executor: one query for all streams.
      const admitted = await query<{ id: number; public_key: string | null }>(
        em,
        'select id, public_key from executors where id = any($1::int[]) and is_enabled',
        [ids],
      );
      const keys = new Map(admitted.map((row) => [row.id, row.public_key]));
      for (const [executorId, streams] of this.streams) {
        for (const stream of streams) {
          if (stream.admittedKey !== null && keys.get(executorId) !== stream.admittedKey) {
            stream.recheck();
          }
        }
      }
    } catch (error) {
      this.logger.warn('assignment backstop poll failed', { error });
    }
  }

  private nudge(executorId: number): void {
    for (const stream of this.streams.get(executorId) ?? []) stream.nudge();
  }

  private recheck(executorId: number): void {
    for (const stream of this.streams.get(executorId) ?? []) stream.recheck();
  }

  private recheckAll(): void {
    for (const streams of this.streams.values()) for (const stream of streams) stream.recheck();
  }

  private register(executorId: number, stream: Stream): void {
    const streams = this.streams.get(executorId) ?? new Set();
    streams.add(stream);
    this.streams.set(executorId, streams);
  }

  private unregister(executorId: number, stream: Stream): void {
    const streams = this.streams.get(executorId);
    streams?.delete(stream);
    if (streams?.size === 0) this.streams.delete(executorId);
  }
}

/** What identifies a message on a stream: its run's attempt, and whether it cancels it. */
function messageKey(row: PendingRow): string {
  return `${row.cancel_requested_at !== null ? 'cancel:' : ''}${row.attempt}`;
}

function toMessage(row: PendingRow): ExecutorMessage {
  return row.cancel_requested_at !== null ? toCancellation(row) : toAssignment(row);
}

function toAssignment(row: PendingRow): ExecutorAssignment {
  return Object.assign(new ExecutorAssignment(), {
    instanceId: String(row.id),
    attempt: row.attempt,
    taskId: row.task_id === null ? null : String(row.task_id),
    taskName: row.task_name,
    kind: row.kind,
    command: row.command,
    env: toEnvironmentList(row.env),
    workingDirectory: row.working_directory,
    httpRequest: row.http_request ? toHttpRequest(row.http_request) : null,
    timeoutSeconds: row.timeout_seconds,
    expectedExitCode: row.expected_exit_code,
    expectedOutput: row.expected_output,
    dispatchedAt: new Date(row.dispatched_at),
    // A cron fire starts on its time (it may be sent ahead of it: GRAPHCRON_CRON_LEAD_MS).
    startAt:
      row.trigger === TaskInstanceTrigger.CRON && row.scheduled_at
        ? new Date(row.scheduled_at)
        : null,
  });
}

function toCancellation(row: PendingRow): ExecutorCancellation {
  return Object.assign(new ExecutorCancellation(), {
    instanceId: String(row.id),
    attempt: row.attempt,
    reason: 'cancelled by a user',
  });
}
