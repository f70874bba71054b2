/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
export type AppendTaskLogsInput = {
  attempt: number;
  /** At most 500 chunks. */
  chunks: Array<LogChunkInput>;
  instanceId: string;
};

export type ExecutorHeartbeatInput = {
  /** Load average (1 minute), for LEAST_LOADED. */
  load?: number | null | undefined;
  /** Instances the executor is running right now. */
  runningInstanceIds: Array<string>;
};

/** Reports of one executor, applied in one transaction in this order: acknowledged, started, logs, finished (the order of one run’s reports). Every report is idempotent. */
export type ExecutorReportBatchInput = {
  /** Assignments received. */
  acknowledged?: Array<RunKeyInput>;
  finished?: Array<ReportTaskFinishedInput>;
  logs?: Array<AppendTaskLogsInput>;
  started?: Array<ReportTaskStartedInput>;
};

export type ExecutorReportKind =
  | 'ACKNOWLEDGED'
  | 'FINISHED'
  | 'LOGS'
  | 'STARTED';

export type LogChunkInput = {
  /** At most 64 KiB (UTF-8). */
  content: string;
  emittedAt: string;
  /** Order within the attempt, from 0, without gaps. */
  seq: number;
  stream: LogStream;
};

/** Which output a log chunk came from. */
export type LogStream =
  | 'STDERR'
  | 'STDOUT';

/** Every run the executor still has a record of: accepted (queued or running), or ended with its final report not yet delivered. */
export type ReconcileExecutorRunsInput = {
  knownRuns: Array<RunKeyInput>;
};

export type RegisterExecutorInput = {
  capacity?: number;
  description?: string;
  /** From createEnrollmentToken; works once. */
  enrollmentToken: string;
  /** `host:port` the executor is known by. */
  host: string;
  name: string;
  /** RSA public key (PEM) of the key pair made on the executor. */
  publicKey: string;
  tag?: string;
};

export type ReportTaskFinishedInput = {
  attempt: number;
  durationMs?: number | null | undefined;
  /** SHELL: the exit code; HTTP: the response status. */
  exitCode?: number | null | undefined;
  finishedAt: string;
  instanceId: string;
  /** At most 64 KiB; longer is cut. */
  result?: string | null | undefined;
  /** FINISHED, ABNORMAL_ENDING, TIMEOUT_ENDING or MANUAL_CANCELLATION. */
  status: TaskInstanceStatus;
  /** Why it ended so, e.g. "killed by SIGTERM". */
  statusReason?: string | null | undefined;
};

export type ReportTaskStartedInput = {
  attempt: number;
  instanceId: string;
  startedAt: string;
};

/** One attempt of one run. */
export type RunKeyInput = {
  attempt: number;
  instanceId: string;
};

/** Where a run is in its life. `statusCode` on TaskInstance gives the number. */
export type TaskInstanceStatus =
  /** (3) Ended with an unexpected exit code or result. */
  | 'ABNORMAL_ENDING'
  /** (11) Assigned to an executor, which has not yet reported that it started. */
  | 'DISPATCHED'
  /** (2) Ended as expected (exit code 0 or the expected result). */
  | 'FINISHED'
  /** (5) Cancelled by a user. */
  | 'MANUAL_CANCELLATION'
  /** (1) The executor reported that it started. */
  | 'RUNNING'
  /** (10) Created, waiting for an eligible executor. */
  | 'SCHEDULED'
  /** (12) A fire that did not run: missed while no scheduler ran, or the task had `maxParallelRuns` runs already (see `statusReason`). */
  | 'SKIPPED'
  /** (4) Killed after running longer than its timeout. */
  | 'TIMEOUT_ENDING'
  /** (81) Its executor was lost; the outcome is not known. */
  | 'UNKNOWN';

export type TaskKind =
  /** An HTTP request made by the executor (`httpRequest`). */
  | 'HTTP'
  /** A command run by `/bin/sh -c` on the executor, in its own process group. */
  | 'SHELL';

export type ExecutorAssignmentsSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type ExecutorAssignmentsSubscription = { executorAssignments:
    | { __typename: 'ExecutorAssignment', instanceId: string, attempt: number, taskId: string | null, taskName: string, kind: TaskKind, command: string, workingDirectory: string | null, timeoutSeconds: number, expectedExitCode: number, expectedOutput: string | null, dispatchedAt: string, startAt: string | null, env: Array<{ name: string, value: string }>, httpRequest: { method: string, url: string, body: string | null, expectedStatusCodes: Array<number>, headers: Array<{ name: string, value: string }> } | null }
    | { __typename: 'ExecutorCancellation', instanceId: string, attempt: number, reason: string }
   };

export type AcknowledgeAssignmentMutationVariables = Exact<{
  instanceId: string;
  attempt: number;
}>;


export type AcknowledgeAssignmentMutation = { acknowledgeAssignment: boolean };

export type ReportTaskStartedMutationVariables = Exact<{
  input: ReportTaskStartedInput;
}>;


export type ReportTaskStartedMutation = { reportTaskStarted: { id: string } };

export type AppendTaskLogsMutationVariables = Exact<{
  input: AppendTaskLogsInput;
}>;


export type AppendTaskLogsMutation = { appendTaskLogs: { stored: number, duplicates: number } };

export type ReportTaskFinishedMutationVariables = Exact<{
  input: ReportTaskFinishedInput;
}>;


export type ReportTaskFinishedMutation = { reportTaskFinished: { id: string } };

export type ExecutorHeartbeatMutationVariables = Exact<{
  input: ExecutorHeartbeatInput;
}>;


export type ExecutorHeartbeatMutation = { executorHeartbeat: { abandonedInstanceIds: Array<string>, serverTime: string } };

export type RegisterExecutorMutationVariables = Exact<{
  input: RegisterExecutorInput;
}>;


export type RegisterExecutorMutation = { registerExecutor: { id: string, name: string, host: string } };

export type SubmitExecutorReportsMutationVariables = Exact<{
  input: ExecutorReportBatchInput;
}>;


export type SubmitExecutorReportsMutation = { submitExecutorReports: { refused: Array<{ kind: ExecutorReportKind, instanceId: string, attempt: number, code: string, message: string }> } };

export type ReconcileExecutorRunsMutationVariables = Exact<{
  input: ReconcileExecutorRunsInput;
}>;


export type ReconcileExecutorRunsMutation = { reconcileExecutorRuns: { endedInstanceIds: Array<string> } };


export const ExecutorAssignmentsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"ExecutorAssignments"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"executorAssignments"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ExecutorAssignment"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"instanceId"}},{"kind":"Field","name":{"kind":"Name","value":"attempt"}},{"kind":"Field","name":{"kind":"Name","value":"taskId"}},{"kind":"Field","name":{"kind":"Name","value":"taskName"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"command"}},{"kind":"Field","name":{"kind":"Name","value":"env"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"value"}}]}},{"kind":"Field","name":{"kind":"Name","value":"workingDirectory"}},{"kind":"Field","name":{"kind":"Name","value":"httpRequest"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"method"}},{"kind":"Field","name":{"kind":"Name","value":"url"}},{"kind":"Field","name":{"kind":"Name","value":"headers"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"value"}}]}},{"kind":"Field","name":{"kind":"Name","value":"body"}},{"kind":"Field","name":{"kind":"Name","value":"expectedStatusCodes"}}]}},{"kind":"Field","name":{"kind":"Name","value":"timeoutSeconds"}},{"kind":"Field","name":{"kind":"Name","value":"expectedExitCode"}},{"kind":"Field","name":{"kind":"Name","value":"expectedOutput"}},{"kind":"Field","name":{"kind":"Name","value":"dispatchedAt"}},{"kind":"Field","name":{"kind":"Name","value":"startAt"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ExecutorCancellation"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"instanceId"}},{"kind":"Field","name":{"kind":"Name","value":"attempt"}},{"kind":"Field","name":{"kind":"Name","value":"reason"}}]}}]}}]}}]} as unknown as DocumentNode<ExecutorAssignmentsSubscription, ExecutorAssignmentsSubscriptionVariables>;
export const AcknowledgeAssignmentDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"AcknowledgeAssignment"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"instanceId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"attempt"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"acknowledgeAssignment"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"instanceId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"instanceId"}}},{"kind":"Argument","name":{"kind":"Name","value":"attempt"},"value":{"kind":"Variable","name":{"kind":"Name","value":"attempt"}}}]}]}}]} as unknown as DocumentNode<AcknowledgeAssignmentMutation, AcknowledgeAssignmentMutationVariables>;
export const ReportTaskStartedDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"ReportTaskStarted"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ReportTaskStartedInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"reportTaskStarted"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}}]}}]}}]} as unknown as DocumentNode<ReportTaskStartedMutation, ReportTaskStartedMutationVariables>;
export const AppendTaskLogsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"AppendTaskLogs"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"AppendTaskLogsInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"appendTaskLogs"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"stored"}},{"kind":"Field","name":{"kind":"Name","value":"duplicates"}}]}}]}}]} as unknown as DocumentNode<AppendTaskLogsMutation, AppendTaskLogsMutationVariables>;
export const ReportTaskFinishedDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"ReportTaskFinished"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ReportTaskFinishedInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"reportTaskFinished"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}}]}}]}}]} as unknown as DocumentNode<ReportTaskFinishedMutation, ReportTaskFinishedMutationVariables>;
export const ExecutorHeartbeatDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"ExecutorHeartbeat"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ExecutorHeartbeatInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"executorHeartbeat"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"abandonedInstanceIds"}},{"kind":"Field","name":{"kind":"Name","value":"serverTime"}}]}}]}}]} as unknown as DocumentNode<ExecutorHeartbeatMutation, ExecutorHeartbeatMutationVariables>;
export const RegisterExecutorDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RegisterExecutor"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"RegisterExecutorInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"registerExecutor"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"host"}}]}}]}}]} as unknown as DocumentNode<RegisterExecutorMutation, RegisterExecutorMutationVariables>;
export const SubmitExecutorReportsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SubmitExecutorReports"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ExecutorReportBatchInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"submitExecutorReports"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"refused"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"instanceId"}},{"kind":"Field","name":{"kind":"Name","value":"attempt"}},{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}}]}}]} as unknown as DocumentNode<SubmitExecutorReportsMutation, SubmitExecutorReportsMutationVariables>;
export const ReconcileExecutorRunsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"ReconcileExecutorRuns"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ReconcileExecutorRunsInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"reconcileExecutorRuns"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"endedInstanceIds"}}]}}]}}]} as unknown as DocumentNode<ReconcileExecutorRunsMutation, ReconcileExecutorRunsMutationVariables>;