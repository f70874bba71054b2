/** Rules and transactions for Executor. */
export class ExecutorService {}
