import { Entity, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { ExecutorGroup } from '../executor-groups/executor-group.entity.js';
import { Executor } from '../executors/executor.entity.js';

@ObjectType({
  description:
    'Puts an executor in a group with a weight. Tasks point at bindings, so moving a binding ' +
    'to another executor moves every task on it.',
})
@Entity({ tableName: 'executor_bindings' })
@Unique({ properties: ['group', 'executor'] })
export class ExecutorBinding {
  @Field(() => ID)
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @Field(() => String)
  @Property({ type: 'string', length: 100 })
  name!: string;

  @Field(() => ExecutorGroup)
  @ManyToOne(() => ExecutorGroup, { deleteRule: 'no action' })
  group!: ExecutorGroup;

  @Field(() => Executor)
  @ManyToOne(() => Executor, { deleteRule: 'no action' })
  executor!: Executor;

  @Field(() => Int, { description: 'Share of work under WEIGHTED routing; at least 1.' })
  @Property({ type: 'integer', default: 1 })
  weight: number = 1;

  @Field(() => Date)
  @Property({ type: 'datetime', defaultRaw: 'now()' })
  createdAt: Date = new Date();

  @Field(() => Date)
  @Property({ type: 'datetime', defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
