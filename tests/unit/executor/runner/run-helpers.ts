import { tmpdir } from 'node:os';
import type { LogChunkInput } from '../../../../executor/generated/graphql.js';
import { startHttpRun } from '../../../../executor/runner/http-runner.js';
import type { RunHandle, RunOutcome } from '../../../../executor/runner/run-outcome.js';
import { startShellRun } from '../../../../executor/runner/shell-runner.js';
import type { ExecutorAssignment } from '../../../../executor/work/executor-message.js';

export interface ObservedChunk extends LogChunkInput {
  /** Whether the run was already over when the chunk arrived. */
  readonly wasRunOver: boolean;
}

export interface ObservedRun {
  readonly handle: RunHandle;
  readonly chunks: ObservedChunk[];
  /** Resolves with the first chunk (the run may still be going). */
  readonly firstChunk: Promise<ObservedChunk>;
  readonly outcome: Promise<RunOutcome>;
  output(stream?: LogChunkInput['stream']): string;
}

/** Starts a run of either kind and records what it streams, and when. */
export function observeRun(
  assignment: ExecutorAssignment,
  options: { killGraceMs?: number } = {},
): ObservedRun {
  const chunks: ObservedChunk[] = [];
  let isOver = false;
  let onFirstChunk: (chunk: ObservedChunk) => void = () => undefined;
  const firstChunk = new Promise<ObservedChunk>((resolve) => (onFirstChunk = resolve));
  const context = {
    assignment,
    killGraceMs: options.killGraceMs ?? 500,
    defaultWorkingDirectory: tmpdir(),
    onChunk: (chunk: LogChunkInput) => {
      const observed = { ...chunk, wasRunOver: isOver };
      chunks.push(observed);
      if (chunks.length === 1) onFirstChunk(observed);
    },
  };
  const handle = assignment.kind === 'HTTP' ? startHttpRun(context) : startShellRun(context);
  const outcome = handle.outcome.then((result) => {
    isOver = true;
    return result;
  });
  return {
    handle,
    chunks,
    firstChunk,
    outcome,
    output: (stream) =>
      chunks
        .filter((chunk) => !stream || chunk.stream === stream)
        .map((chunk) => chunk.content)
        .join(''),
  };
}
