import {
  Entity,
  Enum,
  Index,
  ManyToOne,
  PrimaryKey,
  Property,
  Unique,
} from '@mikro-orm/decorators/legacy';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Task } from '../tasks/task.entity.js';
import { TaskKind } from '../tasks/task-kind.js';
import type { EnvironmentMap, HttpRequestSpec } from '../tasks/task-spec.js';
import { RetryBackoff } from '../tasks/schedule-policies.js';
import { TaskInstanceStatus, unsuccessfulStatuses } from './task-instance-status.js';
import { TaskInstanceTrigger } from './task-instance-trigger.js';

/**
 * Which runs the fire key (task, fire time, executor of a BROADCAST fire) covers: an
 * `on conflict` on that key must name it, or PostgreSQL finds no index to arbitrate.
 */
export const fireKeyPredicate = 'scheduled_at is not null';

/**
 * One run of a task. It keeps a snapshot of the task's fields as they were when it was created,
 * so editing or deleting the task later does not rewrite history.
 */
@ObjectType({ description: 'One run of a task, with a snapshot of the task as it was then.' })
@Entity({ tableName: 'task_instances' })
// One fire, one run: (task, fire time) is unique; BROADCAST fires make one run per executor.
// Manual runs have no fire time, and no entry: every change of a run's status writes a new
// entry in each index that covers it (a status is never a HOT update), three per run here.
@Unique({
  name: 'task_instances_task_scheduled_unique',
  properties: ['task', 'scheduledAt', 'broadcastExecutorId'],
  where: fireKeyPredicate,
})
// The dispatcher's queue, in its order (highest priority, then oldest): walking it in index order
// lets a pass stop after a window instead of sorting every waiting run (~150 ms at 20,000).
// `broadcast_executor_id >= 0` holds for every run, and only a query that says so may use this
// index: the reads of one queue group (below) cannot. With statistics from a time when no run
// waited, both indexes look alike to the planner, and this one read a whole queue for each group.
@Index({
  name: 'task_instances_dispatch_queue',
  properties: ['priority', 'id'],
  columns: [{ name: 'priority', sort: 'DESC' }, { name: 'id' }],
  include: ['task'],
  where: `status = ${TaskInstanceStatus.SCHEDULED} and broadcast_executor_id >= 0`,
})
// The same queue per group (a task; a BROADCAST task's runs fanned out to one executor): the
// dispatcher finds the groups by a skip scan, and reads only the first runs of those that can be
// dispatched, not the whole of a deep queue that cannot (runs bound to an offline executor).
@Index({
  name: 'task_instances_dispatch_queue_by_task',
  properties: ['task', 'broadcastExecutorId', 'priority', 'id'],
  columns: [
    { name: 'task_id' },
    { name: 'broadcast_executor_id' },
    { name: 'priority', sort: 'DESC' },
    { name: 'id' },
  ],
  where: `status = ${TaskInstanceStatus.SCHEDULED}`,
})
// Runs held back by a retry delay: the dispatcher looks up the next to come due after every pass.
@Index({
  name: 'task_instances_delayed',
  properties: ['availableAt'],
  where: `status = ${TaskInstanceStatus.SCHEDULED} and available_at is not null`,
})
// Runs waiting under a task's maxWaitSeconds: the reaper ends those past their deadline every
// second. Without it that read every waiting run (~11,000 rows a second under a 20,000 run
// backlog, auto_explain); runs without a deadline have no entry.
@Index({
  name: 'task_instances_dispatch_deadline',
  properties: ['dispatchDeadline'],
  where: `status = ${TaskInstanceStatus.SCHEDULED} and dispatch_deadline is not null`,
})
// Runs not over yet, per task: the cron ticker counts them for every due task (overlap policy)
// and runTask for its task. Read through the whole (status) index this cost ~175 ms per batch
// of 200 due tasks under an every-second load.
@Index({
  name: 'task_instances_unfinished_by_task',
  properties: ['task'],
  where: `status in (${TaskInstanceStatus.SCHEDULED}, ${TaskInstanceStatus.DISPATCHED}, ${TaskInstanceStatus.RUNNING})`,
})
// Runs on executors now: the dispatcher's load counts. A plain index scan of a small index also
// marks the entries of runs that ended as dead as it meets them (a bitmap scan of the (status)
// index re-read every run ended since the last vacuum).
@Index({
  name: 'task_instances_in_flight',
  properties: ['executorId', 'task'],
  where: `status in (${TaskInstanceStatus.DISPATCHED}, ${TaskInstanceStatus.RUNNING})`,
})
// The runs listed by executor, newest first. Runs not yet dispatched have no entry. A full
// (executor, status) index took an entry at each of a run's three versions; the queries of runs
// in flight by executor have the in-flight index.
@Index({
  name: 'task_instances_by_executor',
  properties: ['executorId', 'id'],
  where: 'executor_id is not null',
})
// The runs that ended otherwise than FINISHED, listed newest first: a run has an entry only
// once it ended so. A full (status) index took an entry at each of every run's versions, and
// the other statuses have their partial indexes above (waiting, in flight), or are most runs
// (FINISHED: read in id order).
@Index({
  name: 'task_instances_ended_unsuccessfully',
  properties: ['id'],
  where: `status in (${unsuccessfulStatuses.join(', ')})`,
})
export class TaskInstance {
  /** Snowflake id (time, machine, sequence), a bigint carried as a string. */
  @Field(() => ID)
  @PrimaryKey({ type: 'bigint', autoincrement: false })
  id!: string;

  /** Null once the task is deleted; the snapshot below remains. */
  @ManyToOne(() => Task, { nullable: true, deleteRule: 'set null' })
  task: Task | null = null;

  @Field(() => String)
  @Property({ type: 'string', length: 100 })
  taskName!: string;

  @Field(() => TaskKind)
  @Enum({ items: () => TaskKind })
  kind!: TaskKind;

  @Field(() => String)
  @Property({ type: 'text' })
  command!: string;

  @Field(() => String, { nullable: true })
  @Property({ type: 'string', length: 200, nullable: true })
  cronExpression: string | null = null;

  @Field(() => String)
  @Property({ type: 'string', length: 64 })
  timeZone!: string;

  /** Snapshot of the task's environment; exposed as a list. */
  @Property({ type: 'json', default: '{}' })
  env: EnvironmentMap = {};

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  workingDirectory: string | null = null;

  /** Snapshot of the task's HTTP request; exposed through a field resolver. */
  @Property({ type: 'json', nullable: true })
  httpRequest: HttpRequestSpec | null = null;

  @Field(() => Int)
  @Property({ type: 'integer', default: 0 })
  expectedExitCode: number = 0;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  expectedOutput: string | null = null;

  @Field(() => Int)
  @Property({ type: 'integer' })
  timeoutSeconds!: number;

  @Field(() => Int)
  @Property({ type: 'integer' })
  retryTimes!: number;

  @Field(() => Int)
  @Property({ type: 'integer' })
  maxParallelRuns!: number;

  @Field(() => String)
  @Property({ type: 'string', length: 100 })
  tag!: string;

  @Field(() => TaskInstanceTrigger)
  @Enum({ items: () => TaskInstanceTrigger })
  trigger!: TaskInstanceTrigger;

  @Field(() => Date, {
    nullable: true,
    description: 'The fire time this run was created for (cron runs); unique per task.',
  })
  @Property({ type: 'datetime', nullable: true })
  scheduledAt: Date | null = null;

  @Field(() => TaskInstanceStatus)
  @Enum({ items: () => TaskInstanceStatus, type: 'smallint' })
  status: TaskInstanceStatus = TaskInstanceStatus.SCHEDULED;

  @Field(() => Int, { description: 'Snapshot of the task priority: higher is dispatched first.' })
  @Property({ type: 'integer', default: 0 })
  priority: number = 0;

  /** For BROADCAST: the executor this run is for (0: any). Part of the fire's unique key. */
  @Property({ type: 'integer', default: 0 })
  broadcastExecutorId: number = 0;

  @Field(() => Date, {
    nullable: true,
    description: 'Not dispatched before this instant (retry backoff).',
  })
  @Property({ type: 'datetime', nullable: true })
  availableAt: Date | null = null;

  /** A SCHEDULED run still without an executor at this instant fails (the task's maxWaitSeconds). */
  @Property({ type: 'datetime', nullable: true })
  dispatchDeadline: Date | null = null;

  @Field(() => Int, {
    description: 'Retries used so far (re-dispatches of lost assignments do not count).',
  })
  @Property({ type: 'integer', default: 0 })
  retryCount: number = 0;

  @Property({ type: 'integer', default: 10 })
  retryIntervalSeconds: number = 10;

  @Enum({ items: () => RetryBackoff, default: RetryBackoff.FIXED })
  retryBackoff: RetryBackoff = RetryBackoff.FIXED;

  @Property({ type: 'integer', default: 3600 })
  retryMaxIntervalSeconds: number = 3600;

  @Field(() => Int, { description: '1 for the first try, then 2, 3, ... for retries.' })
  @Property({ type: 'integer', default: 1 })
  attempt: number = 1;

  @Field(() => Int, { nullable: true })
  @Property({ type: 'integer', nullable: true })
  exitCode: number | null = null;

  @Field(() => ID, { nullable: true, description: 'Executor of the current attempt (snapshot).' })
  @Property({ type: 'integer', nullable: true })
  executorId: number | null = null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'string', length: 100, nullable: true })
  executorName: string | null = null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'string', length: 300, nullable: true })
  executorHost: string | null = null;

  @Field(() => Date)
  @Index() // time-window filters and the dashboard's aggregation
  @Property({ type: 'datetime', defaultRaw: 'now()' })
  createdAt: Date = new Date();

  @Field(() => Date)
  @Property({ type: 'datetime', defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Date = new Date();

  @Field(() => Date, { nullable: true, description: 'When the current attempt was assigned.' })
  @Property({ type: 'datetime', nullable: true })
  dispatchedAt: Date | null = null;

  /** When the executor acknowledged the current attempt's assignment; until then it is replayed. */
  @Property({ type: 'datetime', nullable: true })
  acknowledgedAt: Date | null = null;

  @Field(() => Date, { nullable: true, description: 'When a user asked to cancel the run.' })
  @Property({ type: 'datetime', nullable: true })
  cancelRequestedAt: Date | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'datetime', nullable: true })
  startedAt: Date | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'datetime', nullable: true })
  finishedAt: Date | null = null;

  @Field(() => Int, { nullable: true, description: 'Run time as measured by the executor.' })
  @Property({ type: 'integer', nullable: true })
  durationMs: number | null = null;

  @Field(() => String, {
    nullable: true,
    description: 'What the run produced: the HTTP status and body, or the end of the output.',
  })
  @Property({ type: 'text', nullable: true })
  result: string | null = null;

  @Field(() => String, { nullable: true, description: 'Why the run ended as it did, in words.' })
  @Property({ type: 'text', nullable: true })
  statusReason: string | null = null;
}
