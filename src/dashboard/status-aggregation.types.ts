import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';

/** The width of a bucket of `statusAggregation`; buckets start on whole units of UTC time. */
export enum AggregationBucket {
  MINUTE = 'MINUTE',
  HOUR = 'HOUR',
  DAY = 'DAY',
}

registerEnumType(AggregationBucket, {
  name: 'AggregationBucket',
  description: 'The width of a time bucket, aligned in UTC (a DAY starts at 00:00 UTC).',
});

@ObjectType({
  description:
    'Runs created in one time bucket, counted by their status now. Every bucket of the range ' +
    'is listed, empty ones with zeros.',
})
export class StatusBucket {
  @Field(() => Date, {
    description: 'Start of the bucket (the first one may start before `since`: it counts from it).',
  })
  bucketStart!: Date;

  @Field(() => Int, { description: 'SCHEDULED and DISPATCHED: waiting, or assigned not started.' })
  scheduled!: number;

  @Field(() => Int)
  running!: number;

  @Field(() => Int)
  finished!: number;

  @Field(() => Int, { description: 'ABNORMAL_ENDING.' })
  abnormal!: number;

  @Field(() => Int, { description: 'TIMEOUT_ENDING.' })
  timeout!: number;

  @Field(() => Int, { description: 'MANUAL_CANCELLATION.' })
  cancelled!: number;

  @Field(() => Int)
  unknown!: number;

  @Field(() => Int)
  skipped!: number;

  @Field(() => Int, { description: 'All runs created in the bucket.' })
  total!: number;
}
