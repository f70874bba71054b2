/** Rules and transactions for Task. */
export class TaskService {}
