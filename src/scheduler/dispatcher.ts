import { DedicatedConnection } from '../database/dedicated-connection.js';
import {
  bigintArrayLiteral,
  bigintLiteral,
  intArrayLiteral,
  intLiteral,
} from '../database/sql-literals.js';
import { pendingColumns, type AddressedRow } from '../executor-protocol/pending-message.js';
import { channels } from '../pubsub/channels.js';
import type { NotificationBus } from '../pubsub/notification-bus.js';
import type { Logger } from '../shared/logger.js';
import type { SnowflakeGenerator } from '../shared/snowflake.js';
import { RoutingStrategy } from '../tasks/routing-strategy.js';
import { announceAssignments, type AssignmentSink } from './announce-assignments.js';
import { assignFunction, assignFunctionSql } from './dispatch-assign.sql.js';
import { claimFunction, claimFunctionSql } from './dispatch-claim.sql.js';
import type { RoundRobinTurns } from './round-robin-turns.js';
import { pickExecutor, type Candidate } from './routing.js';

export interface DispatcherOptions {
  /** The backstop: how often to look for waiting runs without being nudged. */
  pollIntervalMs: number;
  /** Runs claimed per transaction. */
  batchSize: number;
}

/** The session name of the dispatcher's connection. */
const dispatcherApplicationName = 'graphcron dispatcher';

interface WaitingRow {
  id: string;
  task_id: number;
  broadcast_executor_id: number;
  routing_strategy: RoutingStrategy;
  max_parallel_runs: number;
}

/** What a pass did, and when the next run held back by `available_at` comes due (ms, or null). */
interface PassResult {
  claimed: number;
  dispatched: number;
  nextDueMs: number | null;
}

/** Most waiting runs a pass reads at the head of the queue (the rest it reads per group). */
const queueWindowSize = 2_000;

/**
 * Turns SCHEDULED runs into DISPATCHED ones, highest priority first, then oldest: claims a
 * batch with SKIP LOCKED (replicas share the work), serialises per task and per executor with
 * locks taken in a fixed order (so `maxParallelRuns` and executor capacity hold exactly across
 * replicas), picks executors by the task's routing strategy, and once committed publishes each
 * executor's channel once. Runs with no executor free stay SCHEDULED. (A `runTask` run created
 * while nothing waits is placed by its own statement instead, with the same locks and counts:
 * placement.sql.ts.)
 *
 * A pass is two round trips on a connection of its own: `begin` and the claim function (the
 * claim, the locks and the loads under them), then the assignments and `commit`. Under load,
 * each round trip also waits its turn in this process's event loop: with the five it took
 * before, a pass was most of the time from runTask to its executor at 500 calls a second.
 */
export class Dispatcher {
  private running: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  /** One-shot: the next run held back by `available_at` (a retry's delay) comes due. */
  private dueTimer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;

  private readonly connection: DedicatedConnection;

  constructor(
    databaseUrl: string,
    private readonly bus: NotificationBus,
    private readonly ids: SnowflakeGenerator,
    private readonly logger: Logger,
    private readonly sink: AssignmentSink,
    private readonly turns: RoundRobinTurns,
    // A second's worth of cron fires in one pass where possible: each pass costs round trips
    // that take milliseconds under load (batches of 200 started the last of 1,000 fires due
    // the same second ~150 ms after the first).
    private readonly options: DispatcherOptions = { pollIntervalMs: 1_000, batchSize: 1_000 },
  ) {
    this.connection = new DedicatedConnection(
      databaseUrl,
      dispatcherApplicationName,
      `${claimFunctionSql}\n${assignFunctionSql}`,
      logger,
    );
  }

  start(): void {
    this.unsubscribe = this.bus.on(channels.dispatch, () => this.nudge());
    this.timer = setInterval(() => this.nudge(), this.options.pollIntervalMs);
    this.timer.unref();
    this.nudge();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.timer = null;
    await this.running;
    await this.connection.close();
  }

  /** Runs a pass now, or right after the current one. */
  nudge(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = null;
    });
  }

  private async loop(): Promise<void> {
    let nextDueMs: number | null = null;
    do {
      this.again = false;
      try {
        const pass = await this.dispatchBatch();
        nextDueMs = pass.nextDueMs;
        // A full batch that made progress: there may be more. So may a pass that made progress
        // but claimed runs it could not place (claims stop at the executors' free slots in all,
        // which runs of other tasks may fit). Without progress, wait.
        if (
          pass.dispatched > 0 &&
          (pass.claimed >= this.options.batchSize || pass.claimed > pass.dispatched)
        ) {
          this.again = true;
        }
      } catch (error) {
        nextDueMs = null; // the poll finds delayed runs
        this.logger.error('dispatch pass failed', { error });
      }
    } while (this.again && this.timer);
    this.wakeWhenNextDue(nextDueMs);
  }

  /**
   * Runs delayed by `available_at` (retries) get no NOTIFY when their delay ends: without this
   * timer only the next poll finds them, and an e2e test saw a 1 s retry interval become ~2 s
   * between attempts. The wait is measured on the database clock, by the pass's claim.
   */
  private wakeWhenNextDue(waitMs: number | null): void {
    if (waitMs === null || !this.timer) return;
    if (this.dueTimer) clearTimeout(this.dueTimer);
    const delayMs = Math.max(0, Math.min(Math.ceil(waitMs), 60_000));
    this.dueTimer = setTimeout(() => {
      this.dueTimer = null;
      this.nudge();
    }, delayMs);
    this.dueTimer.unref();
  }

  /** One transaction: how many waiting runs it looked at, and how many it dispatched. */
  private async dispatchBatch(): Promise<PassResult> {
    const db = this.connection;
    // Round trip 1: the claim, the locks and the loads under them.
    const [, rows] = await db.run(
      `begin; select * from ${claimFunction}(${intLiteral(this.options.batchSize)}, ${intLiteral(queueWindowSize)})`,
    );
    let assigned: AddressedRow[];
    let result: PassResult;
    try {
      const { waiting, candidates, activeByTask, nextDueMs } = readClaim(
        rows as unknown as ClaimRow[],
      );
      const assignments: { id: string; executorId: number }[] = [];
      for (const run of waiting) {
        let options = candidates.byTask.get(run.task_id) ?? [];
        if (run.routing_strategy === RoutingStrategy.BROADCAST) {
          if (run.broadcast_executor_id === 0) {
            await this.fanOut(run, options);
            continue; // dispatched, pinned, on the next pass
          }
          options = options.filter((c) => c.executorId === run.broadcast_executor_id);
        } else if ((activeByTask.get(run.task_id) ?? 0) >= run.max_parallel_runs) {
          continue; // waits for a run of its task to end
        }
        const chosen = pickExecutor(run.routing_strategy, options, this.turns.current(run.task_id));
        if (!chosen) continue;
        this.turns.advance(run.task_id);
        for (const c of candidates.byExecutor.get(chosen.executorId) ?? []) c.active++;
        activeByTask.set(run.task_id, (activeByTask.get(run.task_id) ?? 0) + 1);
        assignments.push({ id: run.id, executorId: chosen.executorId });
      }
      // Round trip 2: the assignments, and the commit.
      const statements = assignments.length > 0 ? `${assignSql(assignments)}; commit` : 'commit';
      assigned = (await db.run(statements))[0] as unknown as AddressedRow[];
      result = { claimed: waiting.length, dispatched: assignments.length, nextDueMs };
    } catch (error) {
      // Not left open on this connection, holding its locks into the next pass.
      await db.run('rollback').catch(() => undefined);
      throw error;
    }
    announceAssignments(assigned, this.sink, this.bus);
    return result;
  }

  /**
   * A BROADCAST run becomes one run per eligible executor: this one is pinned to the first,
   * copies are made for the others (the unique fire key makes a repeat a no-op). One round
   * trip, in the pass's transaction.
   */
  private async fanOut(run: WaitingRow, options: Candidate[]): Promise<void> {
    const executorIds = [...new Set(options.map((c) => c.executorId))].sort((a, b) => a - b);
    if (executorIds.length === 0) return;
    const [first, ...others] = executorIds;
    const runId = bigintLiteral(run.id);
    await this.connection.run(
      `insert into task_instances
       select (jsonb_populate_record(null::task_instances,
                 to_jsonb(t) || jsonb_build_object('id', c.id, 'broadcast_executor_id', c.executor_id))).*
         from task_instances t,
              unnest(${bigintArrayLiteral(others.map(() => this.ids.next()))},
                     ${intArrayLiteral(others)}) as c(id, executor_id)
        where t.id = ${runId}
       on conflict do nothing;
       update task_instances set broadcast_executor_id = ${intLiteral(first!)} where id = ${runId};
       select pg_notify('${channels.dispatch}', '')`,
    );
  }
}

/** A row of the claim function (see dispatch-claim.sql.ts): its columns, null where unused. */
interface ClaimRow {
  kind: 'run' | 'candidate' | 'end';
  id: string | null;
  task_id: number | null;
  broadcast_executor_id: number | null;
  routing_strategy: RoutingStrategy | null;
  max_parallel_runs: number | null;
  executor_id: number | null;
  binding_id: number | null;
  weight: number | null;
  capacity: number | null;
  executor_active: number | null;
  task_active: number | null;
  next_due_ms: number | null;
}

/** The claim function's rows, as the pass uses them. */
function readClaim(rows: readonly ClaimRow[]) {
  const waiting: WaitingRow[] = [];
  const activeByTask = new Map<number, number>();
  const byTask = new Map<number, Candidate[]>();
  const byExecutor = new Map<number, Candidate[]>();
  let nextDueMs: number | null = null;
  for (const row of rows) {
    if (row.kind === 'run') {
      waiting.push({
        id: row.id!,
        task_id: row.task_id!,
        broadcast_executor_id: row.broadcast_executor_id!,
        routing_strategy: row.routing_strategy!,
        max_parallel_runs: row.max_parallel_runs!,
      });
    } else if (row.kind === 'candidate') {
      activeByTask.set(row.task_id!, row.task_active!);
      if (row.executor_id === null) continue;
      const candidate: Candidate = {
        executorId: row.executor_id,
        bindingId: row.binding_id!,
        weight: row.weight!,
        capacity: row.capacity!,
        active: row.executor_active!,
      };
      const ofTask = byTask.get(row.task_id!);
      if (ofTask) ofTask.push(candidate);
      else byTask.set(row.task_id!, [candidate]);
      const ofExecutor = byExecutor.get(row.executor_id);
      if (ofExecutor) ofExecutor.push(candidate);
      else byExecutor.set(row.executor_id, [candidate]);
    } else {
      nextDueMs = row.next_due_ms;
    }
  }
  return { waiting, candidates: { byTask, byExecutor }, activeByTask, nextDueMs };
}

/** The chosen runs made DISPATCHED (see dispatch-assign.sql.ts), as their executors are told. */
function assignSql(assignments: readonly { id: string; executorId: number }[]): string {
  return `select ${pendingColumns}
    from ${assignFunction}(${bigintArrayLiteral(assignments.map((a) => a.id))},
                           ${intArrayLiteral(assignments.map((a) => a.executorId))})`;
}
