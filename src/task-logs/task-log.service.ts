/** Rules and transactions for TaskLog. */
export class TaskLogService {}
