import { Extensions, Field, ID, InputType, Int } from 'type-graphql';
import { checkedPerItem } from '../server/argument-guard.js';
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
  // Each list is checked report by report (executor-report.validation.ts): a bad report is
  // listed in `refused` and the rest of the batch applies.
  @Extensions({ [checkedPerItem]: true })
  @Field(() => [RunKeyInput], { description: 'Assignments received.' })
  acknowledged: RunKeyInput[] = [];

  @Extensions({ [checkedPerItem]: true })
  @Field(() => [ReportTaskStartedInput])
  started: ReportTaskStartedInput[] = [];

  @Extensions({ [checkedPerItem]: true })
  @Field(() => [AppendTaskLogsInput])
  logs: AppendTaskLogsInput[] = [];

  @Extensions({ [checkedPerItem]: true })
  @Field(() => [ReportTaskFinishedInput])
  finished: ReportTaskFinishedInput[] = [];
}
