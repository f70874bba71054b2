import { Resolver } from 'type-graphql';
import { Task } from './task.entity.js';

@Resolver(() => Task)
export class TaskResolver {}
