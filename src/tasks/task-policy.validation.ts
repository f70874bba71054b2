import { ValidationError } from '../shared/app-error.js';
import { isGiven } from '../shared/validation.js';
import { RetryBackoff } from './schedule-policies.js';
import type { UpdateTaskInput } from './task.inputs.js';
import type { TaskFields } from './task.validation.js';

/*
 * Rules between the scheduling fields of a task, checked on the task that results from a create
 * or an update; each error names the input field the caller sent.
 */

/**
 * Exponential backoff doubles the interval up to the cap, so a cap below the first interval
 * would make no sense. The error names the cap if it was sent, else the interval if it was,
 * else the backoff (an update that switched to EXPONENTIAL).
 */
export function assertConsistentBackoff(
  fields: Pick<TaskFields, 'retryBackoff' | 'retryIntervalSeconds' | 'retryMaxIntervalSeconds'>,
  input: Pick<UpdateTaskInput, 'retryIntervalSeconds' | 'retryMaxIntervalSeconds'>,
): void {
  if (fields.retryBackoff !== RetryBackoff.EXPONENTIAL) return;
  if (fields.retryMaxIntervalSeconds >= fields.retryIntervalSeconds) return;
  let field = 'input.retryBackoff';
  if (isGiven(input.retryMaxIntervalSeconds)) field = 'input.retryMaxIntervalSeconds';
  else if (isGiven(input.retryIntervalSeconds)) field = 'input.retryIntervalSeconds';
  throw new ValidationError(
    field,
    `${field}: with retryBackoff EXPONENTIAL, retryMaxIntervalSeconds ` +
      `(${fields.retryMaxIntervalSeconds}) must be at least retryIntervalSeconds ` +
      `(${fields.retryIntervalSeconds}).`,
  );
}

/** The active window, when bounded at both ends, must not be empty. */
export function assertConsistentWindow(
  fields: Pick<TaskFields, 'activeFrom' | 'activeUntil'>,
  input: Pick<UpdateTaskInput, 'activeFrom' | 'activeUntil'>,
): void {
  const { activeFrom, activeUntil } = fields;
  if (activeFrom === null || activeUntil === null || activeUntil > activeFrom) return;
  const field = isGiven(input.activeUntil) ? 'input.activeUntil' : 'input.activeFrom';
  throw new ValidationError(
    field,
    `${field}: activeUntil (${activeUntil.toISOString()}) must be later than activeFrom ` +
      `(${activeFrom.toISOString()}).`,
  );
}
