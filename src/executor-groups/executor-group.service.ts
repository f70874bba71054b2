/** Rules and transactions for ExecutorGroup. */
export class ExecutorGroupService {}
