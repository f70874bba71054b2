import { Resolver } from 'type-graphql';
import { TaskLog } from './task-log.entity.js';

@Resolver(() => TaskLog)
export class TaskLogResolver {}
