import type { RunContext, RunHandle } from './run-outcome.js';

/**
 * `--dry-run`: the run succeeds at once and nothing is executed. Everything around it (the
 * assignment, acknowledgement, journal, reports) is real, so a pipeline can be tested, and the
 * scheduler benchmarked, without the cost or side effects of the work itself.
 */
export function startDryRun(context: RunContext): RunHandle {
  return {
    outcome: Promise.resolve({
      status: 'FINISHED',
      exitCode: 0,
      statusReason: `dry run: ${context.assignment.kind} not executed`,
      result: null,
    }),
    cancel: () => undefined,
  };
}
