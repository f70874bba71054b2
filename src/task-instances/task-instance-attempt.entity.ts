import {
  Entity,
  Enum,
  ManyToOne,
  PrimaryKey,
  Property,
  Unique,
} from '@mikro-orm/decorators/legacy';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { TaskInstance } from './task-instance.entity.js';
import { TaskInstanceStatus } from './task-instance-status.js';

/** An earlier attempt of a run, kept when the run was retried or re-dispatched. */
@ObjectType({
  description: 'An earlier attempt of a run: how it ended before the run was tried again.',
})
@Entity({ tableName: 'task_instance_attempts' })
@Unique({ properties: ['instance', 'attempt'] })
export class TaskInstanceAttempt {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @ManyToOne(() => TaskInstance, { deleteRule: 'cascade' })
  instance!: TaskInstance;

  @Field(() => Int)
  @Property({ type: 'integer' })
  attempt!: number;

  @Field(() => TaskInstanceStatus)
  @Enum({ items: () => TaskInstanceStatus, type: 'smallint' })
  status!: TaskInstanceStatus;

  @Field(() => Int, { nullable: true })
  @Property({ type: 'integer', nullable: true })
  exitCode: number | null = null;

  @Field(() => ID, { nullable: true })
  @Property({ type: 'integer', nullable: true })
  executorId: number | null = null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'string', length: 100, nullable: true })
  executorName: string | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'datetime', nullable: true })
  dispatchedAt: Date | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'datetime', nullable: true })
  startedAt: Date | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'datetime', nullable: true })
  finishedAt: Date | null = null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  statusReason: string | null = null;
}
