import { Field, InputType } from 'type-graphql';
import { RunKeyInput } from './executor-report-batch.inputs.js';

@InputType({
  description:
    'Every run the executor still has a record of: accepted (queued or running), or ended with ' +
    'its final report not yet delivered.',
})
export class ReconcileExecutorRunsInput {
  @Field(() => [RunKeyInput])
  knownRuns!: RunKeyInput[];
}
