import type { ExecutorAssignmentsSubscription } from '../generated/graphql.js';

/** What the server pushes over `executorAssignments`. */
export type ExecutorMessage = ExecutorAssignmentsSubscription['executorAssignments'];
export type ExecutorAssignment = Extract<ExecutorMessage, { __typename: 'ExecutorAssignment' }>;
export type ExecutorCancellation = Extract<ExecutorMessage, { __typename: 'ExecutorCancellation' }>;
