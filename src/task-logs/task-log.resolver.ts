import { FieldResolver, ID, Resolver, Root } from 'type-graphql';
import { TaskLog } from './task-log.entity.js';

@Resolver(() => TaskLog)
export class TaskLogResolver {
  @FieldResolver(() => ID, { description: 'The run this chunk belongs to.' })
  instanceId(@Root() log: TaskLog): string {
    return log.instance.id;
  }
}
