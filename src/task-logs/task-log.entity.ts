import {
  Entity,
  Enum,
  ManyToOne,
  PrimaryKey,
  Property,
  Unique,
} from '@mikro-orm/decorators/legacy';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { TaskInstance } from '../task-instances/task-instance.entity.js';
import { LogStream } from './log-stream.js';

/**
 * An ordered chunk of a run's output. (instance, attempt, seq) is unique so that a report
 * replayed by an executor never stores a chunk twice.
 */
@ObjectType({ description: "An ordered chunk of a run's stdout or stderr." })
@Entity({ tableName: 'task_logs' })
@Unique({ properties: ['instance', 'attempt', 'seq'] })
export class TaskLog {
  @Field(() => ID)
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @ManyToOne(() => TaskInstance, { deleteRule: 'cascade' })
  instance!: TaskInstance;

  @Field(() => Int)
  @Property({ type: 'integer' })
  attempt!: number;

  @Field(() => Int, { description: 'Order of the chunk within its attempt, from 0.' })
  @Property({ type: 'integer' })
  seq!: number;

  @Field(() => LogStream)
  @Enum({ items: () => LogStream })
  stream!: LogStream;

  @Field(() => String)
  @Property({ type: 'text' })
  content!: string;

  @Field(() => Date, { description: 'When the executor read the chunk.' })
  @Property({ type: 'datetime' })
  emittedAt!: Date;

  @Field(() => Date)
  @Property({ type: 'datetime', defaultRaw: 'now()' })
  createdAt: Date = new Date();
}
