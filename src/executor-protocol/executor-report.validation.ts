import { ValidationError } from '../shared/app-error.js';
import {
  integerInRange,
  isGiven,
  storableText,
  textProblem,
  validInstant,
} from '../shared/validation.js';
import { TaskInstanceStatus } from '../task-instances/task-instance-status.js';
import type {
  LogChunkInput,
  ReportTaskFinishedInput,
  ReportTaskStartedInput,
} from './executor-report.inputs.js';

/**
 * What one report may hold. The batch lists are left alone by the argument guard (they are
 * `checkedPerItem`), so these repeat its rules (storable text, instants from 1970 to 9999) for
 * each report, which the batch refuses alone. `at` is the report's path, e.g.
 * `input.finished[2]`.
 */

export const maxLogChunkBytes = 64 * 1024;

const reportableFinalStatuses = [
  TaskInstanceStatus.FINISHED,
  TaskInstanceStatus.ABNORMAL_ENDING,
  TaskInstanceStatus.TIMEOUT_ENDING,
  TaskInstanceStatus.MANUAL_CANCELLATION,
];

/** SHELL runs report an exit code (0..255), HTTP runs a response status (100..599). */
const maxExitCode = 599;

/** GraphQL's Int bound (24.8 days): more than any run lasts, its timeout is at most 7 days. */
const maxDurationMs = 2_147_483_647;

export function assertValidStarted(at: string, report: ReportTaskStartedInput): void {
  validInstant(`${at}.startedAt`, report.startedAt);
}

export function assertValidFinished(at: string, report: ReportTaskFinishedInput): void {
  if (!reportableFinalStatuses.includes(report.status)) {
    throw new ValidationError(
      `${at}.status`,
      'status must be FINISHED, ABNORMAL_ENDING, TIMEOUT_ENDING or MANUAL_CANCELLATION.',
    );
  }
  validInstant(`${at}.finishedAt`, report.finishedAt);
  if (isGiven(report.exitCode) && !isIntegerIn(report.exitCode, 0, maxExitCode)) {
    // A process ended by a signal has no exit code: the executor sends null, never a negative.
    throw new ValidationError(
      `${at}.exitCode`,
      `${at}.exitCode must be a process exit code (0 to 255), an HTTP status (100 to 599) or ` +
        `null; got ${report.exitCode}.`,
    );
  }
  if (isGiven(report.durationMs)) {
    integerInRange(`${at}.durationMs`, report.durationMs, 0, maxDurationMs);
  }
  if (isGiven(report.result)) storableText(`${at}.result`, report.result);
  if (isGiven(report.statusReason)) storableText(`${at}.statusReason`, report.statusReason);
}

/** Why a log chunk cannot be stored, or null. */
export function logChunkProblem(chunk: LogChunkInput): string | null {
  if (!Number.isInteger(chunk.seq) || chunk.seq < 0) return 'seq must be 0 or more';
  if (Buffer.byteLength(chunk.content, 'utf8') > maxLogChunkBytes) {
    return `content must be at most ${maxLogChunkBytes} bytes; split long output`;
  }
  const text = textProblem(chunk.content);
  if (text) return `content ${text}`;
  try {
    validInstant('emittedAt', chunk.emittedAt);
  } catch (error) {
    if (error instanceof ValidationError) return error.message.replace(/\.$/, '');
    throw error;
  }
  return null;
}

/** The executor's 1-minute load average: 0 or more. */
export function assertValidLoad(field: string, load: number): void {
  if (!Number.isFinite(load) || load < 0) {
    throw new ValidationError(field, `${field} must be a load average, 0 or more; got ${load}.`);
  }
}

function isIntegerIn(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}
