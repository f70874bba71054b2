import { Field, ID, InputType } from 'type-graphql';
import { TaskInstanceStatus } from './task-instance-status.js';
import { TaskInstanceTrigger } from './task-instance-trigger.js';

@InputType()
export class TaskInstanceFilter {
  @Field(() => ID, { nullable: true, description: 'Runs of this task.' })
  taskId?: string | null;

  @Field(() => [TaskInstanceStatus], { nullable: true, description: 'Runs in any of these.' })
  statuses?: TaskInstanceStatus[] | null;

  @Field(() => TaskInstanceTrigger, { nullable: true })
  trigger?: TaskInstanceTrigger | null;

  @Field(() => ID, { nullable: true, description: 'Runs whose current attempt is on it.' })
  executorId?: string | null;

  @Field(() => Date, { nullable: true, description: 'Created at or after this instant.' })
  createdAfter?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Created before this instant.' })
  createdBefore?: Date | null;

  @Field(() => Date, {
    nullable: true,
    description: 'Fired for a time at or after this instant (cron runs; manual runs have none).',
  })
  scheduledAfter?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Fired for a time before this instant.' })
  scheduledBefore?: Date | null;
}
