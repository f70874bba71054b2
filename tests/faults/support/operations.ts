import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import type { TaskInstanceStatus } from '../../generated/graphql.js';

/**
 * GraphQL operations of the fault suite that the shared generated documents do not have. Typed
 * by hand (the suite does not own tests/operations/ nor the codegen output): each result type
 * below is exactly the selection of its document.
 */

function typed<TData, TVariables>(source: string): TypedDocumentNode<TData, TVariables> {
  return parse(source) as TypedDocumentNode<TData, TVariables>;
}

export interface FaultAttempt {
  attempt: number;
  status: TaskInstanceStatus;
  executorId: string | null;
  dispatchedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  statusReason: string | null;
}

export interface FaultRun {
  id: string;
  status: TaskInstanceStatus;
  attempt: number;
  retryCount: number;
  executorId: string | null;
  scheduledAt: string | null;
  createdAt: string;
  dispatchedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
  statusReason: string | null;
  attempts: FaultAttempt[];
}

const runFields = `
  id status attempt retryCount executorId scheduledAt createdAt dispatchedAt startedAt finishedAt
  exitCode statusReason
  attempts { attempt status executorId dispatchedAt startedAt finishedAt statusReason }`;

export const FaultRunDocument = typed<{ taskInstance: FaultRun }, { id: string }>(
  `query FaultRun($id: ID!) { taskInstance(id: $id) { ${runFields} } }`,
);

export const FaultRunsDocument = typed<
  {
    taskInstances: {
      totalCount: number;
      nodes: FaultRun[];
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
    };
  },
  { taskId: string; first: number; after?: string | null }
>(
  `query FaultRuns($taskId: ID!, $first: Int!, $after: String) {
     taskInstances(filter: { taskId: $taskId }, first: $first, after: $after) {
       totalCount
       nodes { ${runFields} }
       pageInfo { hasNextPage endCursor }
     }
   }`,
);

export interface FaultLogLine {
  attempt: number;
  seq: number;
  stream: 'STDOUT' | 'STDERR';
  content: string;
}

export const FaultRunLogsDocument = typed<
  {
    taskInstance: {
      id: string;
      logs: {
        totalCount: number;
        nodes: FaultLogLine[];
        pageInfo: { hasNextPage: boolean; endCursor: string | null };
      };
    };
  },
  { id: string; attempt?: number | null; first: number; after?: string | null }
>(
  `query FaultRunLogs($id: ID!, $attempt: Int, $first: Int!, $after: String) {
     taskInstance(id: $id) {
       id
       logs(attempt: $attempt, first: $first, after: $after) {
         totalCount
         nodes { attempt seq stream content }
         pageInfo { hasNextPage endCursor }
       }
     }
   }`,
);

export interface FaultExecutorState {
  id: string;
  name: string;
  isOnline: boolean;
  lastHeartbeatAt: string | null;
}

export const FaultExecutorsDocument = typed<
  { executors: { nodes: FaultExecutorState[] } },
  Record<string, never>
>(`query FaultExecutors { executors(first: 100) { nodes { id name isOnline lastHeartbeatAt } } }`);
