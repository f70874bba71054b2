import type { LogChunkInput, TaskInstanceStatus } from '../generated/graphql.js';
import type { ExecutorAssignment } from '../work/executor-message.js';
import type { ProcessGroupIdentity } from './process-group.js';

/** The statuses an executor may report at the end of a run. */
export type FinalStatus = Extract<
  TaskInstanceStatus,
  'FINISHED' | 'ABNORMAL_ENDING' | 'TIMEOUT_ENDING' | 'MANUAL_CANCELLATION'
>;

export interface RunOutcome {
  readonly status: FinalStatus;
  /** SHELL: the exit code (null when killed by a signal); HTTP: the response status. */
  readonly exitCode: number | null;
  /** Why the run ended so, in words; null when it simply succeeded. */
  readonly statusReason: string | null;
  /** At most 64 KiB: the end of the output, or `HTTP <status>` and the start of the body. */
  readonly result: string | null;
}

/** A run in progress. */
export interface RunHandle {
  /** Settles (never rejects) when the run is over and its output flushed. */
  readonly outcome: Promise<RunOutcome>;
  /** Stops the run; it ends MANUAL_CANCELLATION with `reason`. Harmless once it is over. */
  cancel(reason: string): void;
}

export interface RunContext {
  readonly assignment: ExecutorAssignment;
  /** Receives log chunks in order, as the output comes. */
  readonly onChunk: (chunk: LogChunkInput) => void;
  /** SHELL: how long after SIGTERM the group gets SIGKILL. */
  readonly killGraceMs: number;
  /** SHELL: where commands run without a working directory of their own. */
  readonly defaultWorkingDirectory: string;
  /**
   * SHELL: the process group the command runs in, as soon as it exists: whoever outlives a crash
   * of this process (the run journal) needs it to stop the command.
   */
  readonly onProcessGroup?: (group: ProcessGroupIdentity) => void;
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}
