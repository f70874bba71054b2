import { Connection } from '../shared/pagination.js';
import { TaskInstance } from './task-instance.entity.js';

/** Shared by `taskInstances` and `Task.instances`: a GraphQL type may be built only once. */
export const TaskInstanceConnection = Connection(TaskInstance, 'TaskInstance');
