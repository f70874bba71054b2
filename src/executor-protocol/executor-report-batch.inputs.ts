import { Field, ID, InputType, Int } from 'type-graphql';
import {
  AppendTaskLogsInput,
  ReportTaskFinishedInput,
  ReportTaskStartedInput,
} from './executor-report.inputs.js';

@InputType({ description: 'One attempt of one run.' })
export class RunKeyInput {
  @Field(() => ID)
  instanceId!: string;

  @Field(() => Int)
  attempt!: number;
}

@InputType({
  description:
    'Reports of one executor, applied in one transaction in this order: acknowledged, started, ' +
    'logs, finished (the order of one run’s reports). Every report is idempotent.',
})
export class ExecutorReportBatchInput {
  @Field(() => [RunKeyInput], { description: 'Assignments received.' })
  acknowledged: RunKeyInput[] = [];

  @Field(() => [ReportTaskStartedInput])
  started: ReportTaskStartedInput[] = [];

  @Field(() => [AppendTaskLogsInput])
  logs: AppendTaskLogsInput[] = [];

  @Field(() => [ReportTaskFinishedInput])
  finished: ReportTaskFinishedInput[] = [];
}
