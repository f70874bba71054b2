import { Field, ID, InputType } from 'type-graphql';
import { ValidationError } from '../shared/app-error.js';
import { TaskKind } from '../tasks/task-kind.js';
import type { EnvironmentMap } from '../tasks/task-spec.js';
import { EnvironmentVariable } from '../tasks/task-spec.types.js';
import { validEnvironment } from '../tasks/task-spec.validation.js';

const maxArguments = 100;
const maxArgumentLength = 4096;

@InputType({ description: 'Changes for one manual run only; the task stays as it is.' })
export class RunTaskOverrides {
  @Field(() => [EnvironmentVariable], {
    nullable: true,
    description: "Variables added to the task's (a name the task has gets this value).",
  })
  env?: EnvironmentVariable[] | null;

  @Field(() => [String], {
    nullable: true,
    description:
      'SHELL tasks: words appended to the command, each quoted for /bin/sh (so they arrive ' +
      'as given, spaces and quotes included).',
  })
  arguments?: string[] | null;
}

@InputType({ description: 'One run of `runTasks`.' })
export class RunTaskRequest {
  @Field(() => ID)
  taskId!: string;

  @Field(() => RunTaskOverrides, { nullable: true })
  overrides?: RunTaskOverrides | null;
}

/** The run's env and command after the overrides, validated. */
export function applyRunOverrides(
  kind: TaskKind,
  command: string,
  env: EnvironmentMap,
  overrides: RunTaskOverrides | null | undefined,
): { command: string; env: EnvironmentMap } {
  if (!overrides) return { command, env };
  const extraEnv = overrides.env ? validEnvironment('overrides.env', overrides.env) : {};
  const words = overrides.arguments ?? [];
  if (words.length > 0 && kind !== TaskKind.SHELL) {
    throw new ValidationError('overrides.arguments', 'arguments apply to SHELL tasks only.');
  }
  if (words.length > maxArguments) {
    throw new ValidationError('overrides.arguments', `At most ${maxArguments} arguments.`);
  }
  words.forEach((word, index) => {
    if (word.length > maxArgumentLength || word.includes('\0')) {
      throw new ValidationError(
        `overrides.arguments[${index}]`,
        `overrides.arguments[${index}] must be at most ${maxArgumentLength} characters, without NUL.`,
      );
    }
  });
  const quoted = words.map((word) => `'${word.replaceAll("'", `'\\''`)}'`);
  return {
    command: quoted.length > 0 ? `${command} ${quoted.join(' ')}` : command,
    env: { ...env, ...extraEnv },
  };
}
