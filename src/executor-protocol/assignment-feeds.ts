import type { ExecutorAssignment, ExecutorCancellation } from './executor-message.types.js';

/** Per-executor streams of assignments and cancellations. */
export class AssignmentFeeds {
  subscribe(_executorId: number): AsyncIterable<ExecutorAssignment | ExecutorCancellation> {
    throw new Error('not implemented');
  }
}
