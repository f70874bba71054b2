import { validateCronExpression, validateTimeZone } from '../scheduler/cron.js';
import { ValidationError } from '../shared/app-error.js';
import {
  integerInRange,
  optionalText,
  parseId,
  requiredText,
  validInstant,
} from '../shared/validation.js';
import { FrequencyMode } from './frequency-mode.js';
import type { RoutingStrategy } from './routing-strategy.js';
import type { MisfirePolicy, OverlapPolicy, RetryBackoff } from './schedule-policies.js';
import { assertConsistentBackoff, assertConsistentWindow } from './task-policy.validation.js';
import type { CreateTaskInput, UpdateTaskInput } from './task.inputs.js';
import { TaskKind } from './task-kind.js';
import type { EnvironmentMap, HttpRequestSpec } from './task-spec.js';
import type { EnvironmentVariable, HttpRequestInput } from './task-spec.types.js';
import {
  validEnvironment,
  validExpectedExitCode,
  validExpectedOutput,
  validHttpRequest,
  validWorkingDirectory,
} from './task-spec.validation.js';

/** The fields of a task a user sets directly (bindings aside), once validated. */
export interface TaskFields {
  name: string;
  description: string;
  kind: TaskKind;
  command: string;
  env: EnvironmentMap;
  workingDirectory: string | null;
  httpRequest: HttpRequestSpec | null;
  expectedExitCode: number;
  expectedOutput: string | null;
  cronExpression: string | null;
  timeZone: string;
  frequency: FrequencyMode;
  frequencyTimes: number | null;
  timeoutSeconds: number;
  retryTimes: number;
  retryIntervalSeconds: number;
  maxParallelRuns: number;
  tag: string;
  routingStrategy: RoutingStrategy;
  misfirePolicy: MisfirePolicy;
  overlapPolicy: OverlapPolicy;
  retryBackoff: RetryBackoff;
  retryMaxIntervalSeconds: number;
  priority: number;
  maxWaitSeconds: number | null;
  activeFrom: Date | null;
  activeUntil: Date | null;
  isEnabled: boolean;
}

/** The fields an update may name, in the order errors are reported. */
const taskFieldNames = [
  'name',
  'description',
  'kind',
  'command',
  'env',
  'workingDirectory',
  'httpRequest',
  'expectedExitCode',
  'expectedOutput',
  'cronExpression',
  'timeZone',
  'frequency',
  'frequencyTimes',
  'timeoutSeconds',
  'retryTimes',
  'retryIntervalSeconds',
  'maxParallelRuns',
  'tag',
  'routingStrategy',
  'misfirePolicy',
  'overlapPolicy',
  'retryBackoff',
  'retryMaxIntervalSeconds',
  'priority',
  'maxWaitSeconds',
  'activeFrom',
  'activeUntil',
  'isEnabled',
] as const satisfies readonly (keyof TaskFields)[];

/** Fields where an explicit null in an update clears the value (elsewhere null means unchanged). */
const clearableFieldNames = [
  'cronExpression',
  'frequencyTimes',
  'workingDirectory',
  'httpRequest',
  'expectedOutput',
  'maxWaitSeconds',
  'activeFrom',
  'activeUntil',
] as const satisfies readonly (keyof TaskFields)[];

/** What a caller sends for each field: the stored shape, except the two given as lists/inputs. */
interface TaskFieldInputs extends Omit<TaskFields, 'env' | 'httpRequest'> {
  env: EnvironmentVariable[];
  httpRequest: HttpRequestInput;
}

const maxCommandLength = 65_536;

/**
 * One validator per field; each gets a value the caller gave (never null) and its input path.
 * Rules between fields (kind and command/httpRequest, frequency and frequencyTimes) are checked
 * on the resulting task, after these.
 */
const validators: {
  [K in keyof TaskFields]: (value: NonNullable<TaskFieldInputs[K]>, field: string) => TaskFields[K];
} = {
  name: (value, field) => requiredText(field, value, 100),
  description: (value, field) => optionalText(field, value, 2000),
  kind: (value) => value,
  command: (value, field) => validCommandLength(field, value),
  env: (value, field) => validEnvironment(field, value),
  workingDirectory: (value, field) => validWorkingDirectory(field, value),
  httpRequest: (value, field) => validHttpRequest(field, value),
  expectedExitCode: (value, field) => validExpectedExitCode(field, value),
  expectedOutput: (value, field) => validExpectedOutput(field, value),
  cronExpression: (value, field) => validateCronExpression(field, value),
  timeZone: (value, field) => validateTimeZone(field, value),
  frequency: (value) => value,
  frequencyTimes: (value, field) => integerInRange(field, value, 1, 1_000_000),
  timeoutSeconds: (value, field) => integerInRange(field, value, 1, 604_800),
  retryTimes: (value, field) => integerInRange(field, value, 0, 100),
  retryIntervalSeconds: (value, field) => integerInRange(field, value, 0, 86_400),
  maxParallelRuns: (value, field) => integerInRange(field, value, 1, 10_000),
  tag: (value, field) => optionalText(field, value, 100),
  routingStrategy: (value) => value,
  misfirePolicy: (value) => value,
  overlapPolicy: (value) => value,
  retryBackoff: (value) => value,
  retryMaxIntervalSeconds: (value, field) => integerInRange(field, value, 1, 604_800),
  priority: (value, field) => integerInRange(field, value, -1000, 1000),
  maxWaitSeconds: (value, field) => integerInRange(field, value, 1, 604_800),
  activeFrom: (value, field) => validInstant(field, value),
  activeUntil: (value, field) => validInstant(field, value),
  isEnabled: (value) => value,
};

/** The fields of a new task, validated; GraphQL has filled in the defaults. */
export function validNewTask(input: CreateTaskInput): TaskFields {
  const fields: TaskFields = {
    name: valid('name', input.name),
    description: valid('description', input.description),
    kind: input.kind,
    command: valid('command', input.command),
    env: valid('env', input.env),
    workingDirectory: validOrNull('workingDirectory', input.workingDirectory),
    httpRequest: validOrNull('httpRequest', input.httpRequest),
    expectedExitCode: valid('expectedExitCode', input.expectedExitCode),
    expectedOutput: validOrNull('expectedOutput', input.expectedOutput),
    cronExpression: validOrNull('cronExpression', input.cronExpression),
    timeZone: valid('timeZone', input.timeZone),
    frequency: input.frequency,
    frequencyTimes: validOrNull('frequencyTimes', input.frequencyTimes),
    timeoutSeconds: valid('timeoutSeconds', input.timeoutSeconds),
    retryTimes: valid('retryTimes', input.retryTimes),
    retryIntervalSeconds: valid('retryIntervalSeconds', input.retryIntervalSeconds),
    maxParallelRuns: valid('maxParallelRuns', input.maxParallelRuns),
    tag: valid('tag', input.tag),
    routingStrategy: input.routingStrategy,
    misfirePolicy: input.misfirePolicy,
    overlapPolicy: input.overlapPolicy,
    retryBackoff: input.retryBackoff,
    retryMaxIntervalSeconds: valid('retryMaxIntervalSeconds', input.retryMaxIntervalSeconds),
    priority: valid('priority', input.priority),
    maxWaitSeconds: validOrNull('maxWaitSeconds', input.maxWaitSeconds),
    activeFrom: validOrNull('activeFrom', input.activeFrom),
    activeUntil: validOrNull('activeUntil', input.activeUntil),
    isEnabled: input.isEnabled,
  };
  return withConsistentRules(fields, input);
}

/** `current` with the changes in `input` applied, validated. */
export function validTaskChanges(current: TaskFields, input: UpdateTaskInput): TaskFields {
  const fields = { ...current };
  for (const key of taskFieldNames) {
    const value = input[key];
    // Null leaves a field as it is, except for the clearable ones.
    if (value !== undefined && value !== null) setField(fields, key, valid(key, value));
  }
  for (const key of clearableFieldNames) {
    if (input[key] === null) fields[key] = null;
  }
  return withConsistentRules(fields, input);
}

/** The rules between fields, checked on the task that results from a create or an update. */
function withConsistentRules(fields: TaskFields, input: CreateTaskInput | UpdateTaskInput) {
  const checked = withConsistentKind(
    withConsistentFrequency(fields, input.frequencyTimes),
    input.httpRequest,
  );
  assertConsistentBackoff(checked, input);
  assertConsistentWindow(checked, input);
  return checked;
}

function valid<K extends keyof TaskFields>(
  key: K,
  value: NonNullable<TaskFieldInputs[K]>,
): TaskFields[K] {
  return validators[key](value, `input.${key}`);
}

function validOrNull<K extends keyof TaskFields>(
  key: K,
  value: TaskFieldInputs[K] | null | undefined,
): TaskFields[K] | null {
  return value === undefined || value === null ? null : valid(key, value);
}

function setField<K extends keyof TaskFields>(fields: TaskFields, key: K, value: TaskFields[K]) {
  fields[key] = value;
}

/**
 * `frequencyTimes` belongs to `frequency: TIMES` only. A count the caller sends with another
 * frequency is a mistake; a count left over from before a change of frequency is dropped.
 */
function withConsistentFrequency(
  fields: TaskFields,
  givenTimes: number | null | undefined,
): TaskFields {
  if (fields.frequency === FrequencyMode.TIMES) {
    if (fields.frequencyTimes === null) {
      throw new ValidationError(
        'input.frequencyTimes',
        'input.frequencyTimes is required with frequency TIMES: how many fires, at least 1.',
      );
    }
    return fields;
  }
  if (givenTimes !== undefined && givenTimes !== null) {
    throw new ValidationError(
      'input.frequencyTimes',
      `input.frequencyTimes must be absent unless frequency is TIMES; frequency is ${fields.frequency}.`,
    );
  }
  return { ...fields, frequencyTimes: null };
}

/**
 * What each kind needs. A SHELL task runs its command and has no request; an HTTP task makes its
 * request and may have an empty command. A request the caller sends with kind SHELL is a
 * mistake; one left over from before a change of kind to SHELL is dropped.
 */
function withConsistentKind(
  fields: TaskFields,
  givenRequest: HttpRequestInput | null | undefined,
): TaskFields {
  if (fields.kind === TaskKind.HTTP) {
    if (fields.httpRequest === null) {
      throw new ValidationError(
        'input.httpRequest',
        'input.httpRequest is required with kind HTTP: the request to make, at least its url.',
      );
    }
    return fields;
  }
  if (givenRequest !== undefined && givenRequest !== null) {
    throw new ValidationError(
      'input.httpRequest',
      `input.httpRequest must be absent unless kind is HTTP; kind is ${fields.kind}.`,
    );
  }
  if (fields.command.trim() === '') {
    throw new ValidationError(
      'input.command',
      `input.command must not be blank with kind ${fields.kind}: it is the command line ` +
        'given to /bin/sh -c.',
    );
  }
  return { ...fields, httpRequest: null };
}

/**
 * At most 64 KiB of characters; kept exactly as given (whitespace can matter). Whether it may be
 * blank depends on the kind (`withConsistentKind`).
 */
function validCommandLength(field: string, value: string): string {
  if (value.length > maxCommandLength) {
    throw new ValidationError(field, `${field} must be at most ${maxCommandLength} characters.`);
  }
  return value;
}

/** Binding ids as numbers, in the given order, each at most once. */
export function validBindingIds(field: string, ids: readonly string[]): number[] {
  const parsed = ids.map((id) => parseId(field, id));
  const seen = new Set<number>();
  for (const id of parsed) {
    if (seen.has(id)) throw new ValidationError(field, `${field} lists binding ${id} twice.`);
    seen.add(id);
  }
  return parsed;
}
