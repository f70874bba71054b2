import { Resolver } from 'type-graphql';
import { TaskInstance } from './task-instance.entity.js';

@Resolver(() => TaskInstance)
export class TaskInstanceResolver {}
