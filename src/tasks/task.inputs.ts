import { Field, ID, InputType, Int } from 'type-graphql';
import { FrequencyMode } from './frequency-mode.js';
import { RoutingStrategy } from './routing-strategy.js';
import { TaskKind } from './task-kind.js';

@InputType()
export class CreateTaskInput {
  @Field(() => String, { description: '1..100 characters.' })
  name!: string;

  @Field(() => String, { defaultValue: '', description: 'At most 2000 characters.' })
  description: string = '';

  @Field(() => TaskKind, { defaultValue: TaskKind.SHELL })
  kind: TaskKind = TaskKind.SHELL;

  @Field(() => String, { description: 'Not blank; at most 65536 characters. Stored as given.' })
  command!: string;

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
 * Changes to a task. Omitted (or null) fields stay as they are, except `cronExpression` and
 * `frequencyTimes`, where an explicit null clears the value.
 */
@InputType()
export class UpdateTaskInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => TaskKind, { nullable: true })
  kind?: TaskKind | null;

  @Field(() => String, { nullable: true })
  command?: string | null;

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
