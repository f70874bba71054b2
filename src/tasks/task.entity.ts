import {
  Entity,
  Enum,
  Index,
  ManyToMany,
  ManyToOne,
  PrimaryKey,
  Property,
} from '@mikro-orm/decorators/legacy';
import { Collection } from '@mikro-orm/core';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { ExecutorBinding } from '../executor-bindings/executor-binding.entity.js';
import { User } from '../users/user.entity.js';
import { FrequencyMode } from './frequency-mode.js';
import { RoutingStrategy } from './routing-strategy.js';
import { MisfirePolicy, OverlapPolicy, RetryBackoff } from './schedule-policies.js';
import { TaskKind } from './task-kind.js';
import type { EnvironmentMap, HttpRequestSpec } from './task-spec.js';

@ObjectType({ description: 'What to run, where, and when.' })
@Entity({ tableName: 'tasks' })
// Whether any task is BROADCAST: the dispatcher asks at every window of its queue (a BROADCAST
// run not yet fanned out needs no executor slot). Read from the table, that was ~25 ms a window
// at 10,000 tasks (auto_explain); from this index it is one probe.
@Index({
  name: 'tasks_broadcast',
  properties: ['id'],
  where: `routing_strategy = '${RoutingStrategy.BROADCAST}'`,
})
export class Task {
  @Field(() => ID)
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @Field(() => String)
  @Property({ type: 'string', length: 100 })
  name!: string;

  @Field(() => String)
  @Property({ type: 'text', default: '' })
  description: string = '';

  @Field(() => TaskKind)
  @Enum({ items: () => TaskKind })
  kind: TaskKind = TaskKind.SHELL;

  @Field(() => String, { description: 'For SHELL tasks, the command line given to `/bin/sh -c`.' })
  @Property({ type: 'text' })
  command!: string;

  /** Environment variables for the run (SHELL), name → value; exposed as a list. */
  @Property({ type: 'json', default: '{}' })
  env: EnvironmentMap = {};

  @Field(() => String, { nullable: true, description: 'Working directory of a SHELL run.' })
  @Property({ type: 'text', nullable: true })
  workingDirectory: string | null = null;

  /** The request of an HTTP task; exposed through a field resolver. */
  @Property({ type: 'json', nullable: true })
  httpRequest: HttpRequestSpec | null = null;

  @Field(() => Int, {
    description: 'A SHELL run that exits with another code ends ABNORMAL_ENDING.',
  })
  @Property({ type: 'integer', default: 0 })
  expectedExitCode: number = 0;

  @Field(() => String, {
    nullable: true,
    description: 'When set, a run whose output does not contain this text ends ABNORMAL_ENDING.',
  })
  @Property({ type: 'text', nullable: true })
  expectedOutput: string | null = null;

  @Field(() => String, {
    nullable: true,
    description:
      'Cron expression with an optional leading seconds field (5 or 6 fields); null means the ' +
      'task runs only when asked (manual).',
  })
  @Property({ type: 'string', length: 200, nullable: true })
  cronExpression: string | null = null;

  @Field(() => String, { description: 'IANA time zone the cron expression is read in.' })
  @Property({ type: 'string', length: 64, default: 'UTC' })
  timeZone: string = 'UTC';

  @Field(() => FrequencyMode)
  @Enum({ items: () => FrequencyMode, default: FrequencyMode.REPEAT })
  frequency: FrequencyMode = FrequencyMode.REPEAT;

  @Field(() => Int, { nullable: true, description: 'Number of fires for `frequency: TIMES`.' })
  @Property({ type: 'integer', nullable: true })
  frequencyTimes: number | null = null;

  @Field(() => Int, { description: 'A run longer than this is killed and ends as TIMEOUT_ENDING.' })
  @Property({ type: 'integer', default: 3600 })
  timeoutSeconds: number = 3600;

  @Field(() => Int, { description: 'How many times a failed run is tried again.' })
  @Property({ type: 'integer', default: 0 })
  retryTimes: number = 0;

  @Field(() => Int)
  @Property({ type: 'integer', default: 10 })
  retryIntervalSeconds: number = 10;

  @Field(() => Int, { description: 'Runs of this task allowed at the same time.' })
  @Property({ type: 'integer', default: 1 })
  maxParallelRuns: number = 1;

  @Field(() => String)
  @Property({ type: 'string', length: 100, default: '' })
  tag: string = '';

  @Field(() => RoutingStrategy)
  @Enum({ items: () => RoutingStrategy, default: RoutingStrategy.ROUND_ROBIN })
  routingStrategy: RoutingStrategy = RoutingStrategy.ROUND_ROBIN;

  @Field(() => MisfirePolicy)
  @Enum({ items: () => MisfirePolicy, default: MisfirePolicy.SKIP })
  misfirePolicy: MisfirePolicy = MisfirePolicy.SKIP;

  @Field(() => OverlapPolicy)
  @Enum({ items: () => OverlapPolicy, default: OverlapPolicy.SKIP })
  overlapPolicy: OverlapPolicy = OverlapPolicy.SKIP;

  @Field(() => RetryBackoff)
  @Enum({ items: () => RetryBackoff, default: RetryBackoff.FIXED })
  retryBackoff: RetryBackoff = RetryBackoff.FIXED;

  @Field(() => Int, { description: 'Cap of the wait between attempts under EXPONENTIAL backoff.' })
  @Property({ type: 'integer', default: 3600 })
  retryMaxIntervalSeconds: number = 3600;

  @Field(() => Int, {
    description: 'Runs waiting for executors start by priority (higher first), then in order.',
  })
  @Property({ type: 'integer', default: 0 })
  priority: number = 0;

  @Field(() => Int, {
    nullable: true,
    description: 'A run that finds no eligible executor for this long fails (null: waits forever).',
  })
  @Property({ type: 'integer', nullable: true })
  maxWaitSeconds: number | null = null;

  @Field(() => Date, { nullable: true, description: 'No scheduled fire before this instant.' })
  @Property({ type: 'datetime', nullable: true })
  activeFrom: Date | null = null;

  @Field(() => Date, { nullable: true, description: 'No scheduled fire after this instant.' })
  @Property({ type: 'datetime', nullable: true })
  activeUntil: Date | null = null;

  @Field(() => Int, { description: 'Scheduled fires so far (ONCE and TIMES stop at their count).' })
  @Property({ type: 'integer', default: 0 })
  firedCount: number = 0;

  @Field(() => Boolean, { description: 'A disabled task is not fired by its schedule.' })
  @Property({ type: 'boolean', default: true })
  isEnabled: boolean = true;

  @Field(() => Date, { nullable: true, description: 'When the schedule fires next.' })
  @Index()
  @Property({ type: 'datetime', nullable: true })
  nextFireAt: Date | null = null;

  /** Where it may run, in order (FAILOVER uses the order of ids). */
  @ManyToMany(() => ExecutorBinding, undefined, {
    pivotTable: 'task_bindings',
    joinColumn: 'task_id',
    inverseJoinColumn: 'binding_id',
    owner: true,
  })
  bindings = new Collection<ExecutorBinding>(this);

  /** Who may change it besides admins; null once the owner is deleted. */
  @ManyToOne(() => User, { nullable: true, deleteRule: 'set null' })
  owner: User | null = null;

  @Field(() => Date)
  @Property({ type: 'datetime', defaultRaw: 'now()' })
  createdAt: Date = new Date();

  @Field(() => Date)
  @Property({ type: 'datetime', defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
