import { Connection } from '../shared/pagination.js';
import { TaskLog } from './task-log.entity.js';

export const TaskLogConnection = Connection(TaskLog, 'TaskLog');
