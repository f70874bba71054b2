/** Rules and transactions for ExecutorBinding. */
export class ExecutorBindingService {}
