import { Field, ID, ObjectType } from 'type-graphql';

@ObjectType()
export class ReconcileExecutorRunsResult {
  @Field(() => [ID], {
    description:
      'Runs the server had as acknowledged or running on this executor and that it no longer ' +
      'knows of: they were ended ABNORMAL_ENDING (MANUAL_CANCELLATION if a cancel was ' +
      'requested), and retried where their task allows.',
  })
  endedInstanceIds!: string[];
}
