import { Field, ID, InputType, Int } from 'type-graphql';
import { FrequencyMode } from './frequency-mode.js';
import { RoutingStrategy } from './routing-strategy.js';
import { MisfirePolicy, OverlapPolicy, RetryBackoff } from './schedule-policies.js';
import { TaskKind } from './task-kind.js';
import { EnvironmentVariable, HttpRequestInput } from './task-spec.types.js';

@InputType()
export class CreateTaskInput {
  @Field(() => String, { description: '1..100 characters.' })
  name!: string;

  @Field(() => String, { defaultValue: '', description: 'At most 2000 characters.' })
  description: string = '';

  @Field(() => TaskKind, { defaultValue: TaskKind.SHELL })
  kind: TaskKind = TaskKind.SHELL;

  @Field(() => String, {
    description:
      'At most 65536 characters, stored as given. Not blank for SHELL tasks; HTTP tasks do ' +
      'not use it and may send an empty string.',
  })
  command!: string;

  @Field(() => [EnvironmentVariable], {
    defaultValue: [],
    description:
      'Environment variables of a SHELL run: at most 100, each name once (POSIX: letters, ' +
      'digits and `_`, not starting with a digit), each value at most 32 KiB (UTF-8).',
  })
  // No initializer, as for bindingIds below.
  env!: EnvironmentVariable[];

  @Field(() => String, {
    nullable: true,
    description:
      'Working directory of a SHELL run: an absolute path of at most 4096 characters. ' +
      "Null: the executor's own directory.",
  })
  workingDirectory?: string | null;

  @Field(() => HttpRequestInput, {
    nullable: true,
    description: 'The request of an HTTP task: required with `kind: HTTP`, absent otherwise.',
  })
  httpRequest?: HttpRequestInput | null;

  @Field(() => Int, {
    defaultValue: 0,
    description: '0..255. A SHELL run that exits with another code ends ABNORMAL_ENDING.',
  })
  expectedExitCode: number = 0;

  @Field(() => String, {
    nullable: true,
    description:
      'At most 4096 characters. When set, a run whose output does not contain this text ends ' +
      'ABNORMAL_ENDING; an empty string means no expectation (stored as null).',
  })
  expectedOutput?: string | null;

  @Field(() => String, {
    nullable: true,
    description: '5 fields, or 6 with a leading seconds field; null: runs only by `runTask`.',
  })
  cronExpression?: string | null;

  @Field(() => String, { defaultValue: 'UTC', description: 'IANA time zone name.' })
  timeZone: string = 'UTC';

  @Field(() => FrequencyMode, { defaultValue: FrequencyMode.REPEAT })
  frequency: FrequencyMode = FrequencyMode.REPEAT;

  @Field(() => Int, {
    nullable: true,
    description: 'Required (1..1000000) with `frequency: TIMES`; must be absent otherwise.',
  })
  frequencyTimes?: number | null;

  @Field(() => Int, { defaultValue: 3600, description: '1..604800 (7 days).' })
  timeoutSeconds: number = 3600;

  @Field(() => Int, { defaultValue: 0, description: '0..100.' })
  retryTimes: number = 0;

  @Field(() => Int, { defaultValue: 10, description: '0..86400.' })
  retryIntervalSeconds: number = 10;

  @Field(() => Int, { defaultValue: 1, description: '1..10000.' })
  maxParallelRuns: number = 1;

  @Field(() => String, { defaultValue: '', description: 'At most 100 characters.' })
  tag: string = '';

  @Field(() => RoutingStrategy, { defaultValue: RoutingStrategy.ROUND_ROBIN })
  routingStrategy: RoutingStrategy = RoutingStrategy.ROUND_ROBIN;

  @Field(() => MisfirePolicy, { defaultValue: MisfirePolicy.SKIP })
  misfirePolicy: MisfirePolicy = MisfirePolicy.SKIP;

  @Field(() => OverlapPolicy, { defaultValue: OverlapPolicy.SKIP })
  overlapPolicy: OverlapPolicy = OverlapPolicy.SKIP;

  @Field(() => RetryBackoff, { defaultValue: RetryBackoff.FIXED })
  retryBackoff: RetryBackoff = RetryBackoff.FIXED;

  @Field(() => Int, {
    defaultValue: 3600,
    description: '1..604800; at least `retryIntervalSeconds` with `retryBackoff: EXPONENTIAL`.',
  })
  retryMaxIntervalSeconds: number = 3600;

  @Field(() => Int, { defaultValue: 0, description: '-1000..1000; higher is dispatched first.' })
  priority: number = 0;

  @Field(() => Int, {
    nullable: true,
    description: '1..604800; null: a run waits for an eligible executor as long as it takes.',
  })
  maxWaitSeconds?: number | null;

  @Field(() => Date, {
    nullable: true,
    description: 'No scheduled fire before this instant; null: no lower bound.',
  })
  activeFrom?: Date | null;

  @Field(() => Date, {
    nullable: true,
    description: 'No scheduled fire after this instant (later than `activeFrom`); null: no end.',
  })
  activeUntil?: Date | null;

  @Field(() => Boolean, { defaultValue: true })
  isEnabled: boolean = true;

  @Field(() => [ID], {
    defaultValue: [],
    description: 'Executor bindings the task may run on; each once.',
  })
  // No initializer: type-graphql compares it with `defaultValue` by reference and would refuse.
  bindingIds!: string[];
}

/**
 * Changes to a task. Omitted (or null) fields stay as they are, except `cronExpression`,
 * `frequencyTimes`, `workingDirectory`, `httpRequest`, `expectedOutput`, `maxWaitSeconds`,
 * `activeFrom` and `activeUntil`, where an explicit null clears the value. The rules of
 * CreateTaskInput apply to the task that results.
 */
@InputType()
export class UpdateTaskInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => TaskKind, {
    nullable: true,
    description:
      'Changing to HTTP needs an `httpRequest` (sent now or already set); changing to SHELL ' +
      'needs a command that is not blank, and drops the request.',
  })
  kind?: TaskKind | null;

  @Field(() => String, { nullable: true })
  command?: string | null;

  @Field(() => [EnvironmentVariable], {
    nullable: true,
    description: 'Replaces all the variables; [] removes them.',
  })
  env?: EnvironmentVariable[] | null;

  @Field(() => String, { nullable: true, description: "null: the executor's own directory." })
  workingDirectory?: string | null;

  @Field(() => HttpRequestInput, {
    nullable: true,
    description: 'Replaces the whole request; null removes it (SHELL tasks only).',
  })
  httpRequest?: HttpRequestInput | null;

  @Field(() => Int, { nullable: true })
  expectedExitCode?: number | null;

  @Field(() => String, { nullable: true, description: 'null or "": no expectation.' })
  expectedOutput?: string | null;

  @Field(() => String, { nullable: true, description: 'null makes the task manual-only.' })
  cronExpression?: string | null;

  @Field(() => String, { nullable: true })
  timeZone?: string | null;

  @Field(() => FrequencyMode, { nullable: true })
  frequency?: FrequencyMode | null;

  @Field(() => Int, { nullable: true })
  frequencyTimes?: number | null;

  @Field(() => Int, { nullable: true })
  timeoutSeconds?: number | null;

  @Field(() => Int, { nullable: true })
  retryTimes?: number | null;

  @Field(() => Int, { nullable: true })
  retryIntervalSeconds?: number | null;

  @Field(() => Int, { nullable: true })
  maxParallelRuns?: number | null;

  @Field(() => String, { nullable: true })
  tag?: string | null;

  @Field(() => RoutingStrategy, { nullable: true })
  routingStrategy?: RoutingStrategy | null;

  @Field(() => MisfirePolicy, { nullable: true })
  misfirePolicy?: MisfirePolicy | null;

  @Field(() => OverlapPolicy, { nullable: true })
  overlapPolicy?: OverlapPolicy | null;

  @Field(() => RetryBackoff, { nullable: true })
  retryBackoff?: RetryBackoff | null;

  @Field(() => Int, { nullable: true })
  retryMaxIntervalSeconds?: number | null;

  @Field(() => Int, { nullable: true })
  priority?: number | null;

  @Field(() => Int, { nullable: true, description: 'null: no limit.' })
  maxWaitSeconds?: number | null;

  @Field(() => Date, { nullable: true, description: 'null: no lower bound.' })
  activeFrom?: Date | null;

  @Field(() => Date, { nullable: true, description: 'null: no end.' })
  activeUntil?: Date | null;

  @Field(() => Boolean, { nullable: true })
  isEnabled?: boolean | null;

  @Field(() => [ID], { nullable: true, description: 'Replaces the whole set of bindings.' })
  bindingIds?: string[] | null;
}

@InputType()
export class TaskFilter {
  @Field(() => String, { nullable: true, description: 'Part of the name or description.' })
  search?: string | null;

  @Field(() => String, { nullable: true, description: 'Exactly this tag.' })
  tag?: string | null;

  @Field(() => TaskKind, { nullable: true })
  kind?: TaskKind | null;

  @Field(() => Boolean, { nullable: true })
  isEnabled?: boolean | null;

  @Field(() => ID, { nullable: true, description: 'Tasks that may run on this binding.' })
  bindingId?: string | null;
}
