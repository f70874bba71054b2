import { createUnionType, Field, ID, Int, ObjectType } from 'type-graphql';
import { TaskKind } from '../tasks/task-kind.js';
import { EnvironmentVariable, HttpRequest } from '../tasks/task-spec.types.js';

@ObjectType({
  description: 'Run this attempt of this instance. Acknowledge it with acknowledgeAssignment.',
})
export class ExecutorAssignment {
  @Field(() => ID)
  instanceId!: string;

  @Field(() => Int, { description: 'Every report about this run must carry this attempt.' })
  attempt!: number;

  @Field(() => ID, { nullable: true })
  taskId!: string | null;

  @Field(() => String)
  taskName!: string;

  @Field(() => TaskKind)
  kind!: TaskKind;

  @Field(() => String, { description: 'For SHELL: the command line for `/bin/sh -c`.' })
  command!: string;

  @Field(() => [EnvironmentVariable])
  env!: EnvironmentVariable[];

  @Field(() => String, { nullable: true })
  workingDirectory!: string | null;

  @Field(() => HttpRequest, { nullable: true, description: 'For HTTP: the request to make.' })
  httpRequest!: HttpRequest | null;

  @Field(() => Int)
  timeoutSeconds!: number;

  @Field(() => Int, { description: 'SHELL: any other exit code ends ABNORMAL_ENDING.' })
  expectedExitCode!: number;

  @Field(() => String, { nullable: true, description: 'When set, the output must contain it.' })
  expectedOutput!: string | null;

  @Field(() => Date)
  dispatchedAt!: Date;

  @Field(() => Date, {
    nullable: true,
    description:
      'Start it at this time, not before (a cron fire sent ahead of its time); null: at once.',
  })
  startAt!: Date | null;
}

@ObjectType({ description: 'Stop this attempt: kill it and report MANUAL_CANCELLATION.' })
export class ExecutorCancellation {
  @Field(() => ID)
  instanceId!: string;

  @Field(() => Int)
  attempt!: number;

  @Field(() => String)
  reason!: string;
}

export const ExecutorMessage = createUnionType({
  name: 'ExecutorMessage',
  description: 'What the server sends an executor over `executorAssignments`.',
  types: () => [ExecutorAssignment, ExecutorCancellation] as const,
  resolveType: (value) => ('kind' in value ? ExecutorAssignment : ExecutorCancellation),
});
