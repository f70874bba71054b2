import { Extensions, Field, Float, ID, InputType, Int } from 'type-graphql';
import { checkedPerItem } from '../server/argument-guard.js';
import { TaskInstanceStatus } from '../task-instances/task-instance-status.js';
import { LogStream } from '../task-logs/log-stream.js';

@InputType()
export class ReportTaskStartedInput {
  @Field(() => ID)
  instanceId!: string;

  @Field(() => Int)
  attempt!: number;

  @Field(() => Date)
  startedAt!: Date;
}

@InputType()
export class LogChunkInput {
  @Field(() => Int, { description: 'Order within the attempt, from 0, without gaps.' })
  seq!: number;

  @Field(() => LogStream)
  stream!: LogStream;

  @Field(() => String, { description: 'At most 64 KiB (UTF-8).' })
  content!: string;

  @Field(() => Date)
  emittedAt!: Date;
}

@InputType()
export class AppendTaskLogsInput {
  @Field(() => ID)
  instanceId!: string;

  @Field(() => Int)
  attempt!: number;

  // Checked chunk by chunk: a bad chunk is refused and the others are stored.
  @Extensions({ [checkedPerItem]: true })
  @Field(() => [LogChunkInput], { description: 'At most 500 chunks.' })
  chunks!: LogChunkInput[];
}

@InputType()
export class ReportTaskFinishedInput {
  @Field(() => ID)
  instanceId!: string;

  @Field(() => Int)
  attempt!: number;

  @Field(() => TaskInstanceStatus, {
    description: 'FINISHED, ABNORMAL_ENDING, TIMEOUT_ENDING or MANUAL_CANCELLATION.',
  })
  status!: TaskInstanceStatus;

  @Field(() => Int, {
    nullable: true,
    description: 'SHELL: the exit code; HTTP: the response status.',
  })
  exitCode?: number | null;

  @Field(() => Date)
  finishedAt!: Date;

  @Field(() => Int, { nullable: true })
  durationMs?: number | null;

  @Field(() => String, { nullable: true, description: 'At most 64 KiB; longer is cut.' })
  result?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Why it ended so, e.g. "killed by SIGTERM".',
  })
  statusReason?: string | null;
}

@InputType()
export class ExecutorHeartbeatInput {
  @Field(() => [ID], { description: 'Instances the executor is running right now.' })
  runningInstanceIds!: string[];

  @Field(() => Float, { nullable: true, description: 'Load average (1 minute), for LEAST_LOADED.' })
  load?: number | null;
}

@InputType()
export class RegisterExecutorInput {
  @Field(() => String, { description: 'From createEnrollmentToken; works once.' })
  enrollmentToken!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String, { description: '`host:port` the executor is known by.' })
  host!: string;

  @Field(() => String, {
    description: 'RSA public key (PEM) of the key pair made on the executor.',
  })
  publicKey!: string;

  @Field(() => Int, { defaultValue: 4 })
  capacity: number = 4;

  @Field(() => String, { defaultValue: '' })
  tag: string = '';

  @Field(() => String, { defaultValue: '' })
  description: string = '';
}
