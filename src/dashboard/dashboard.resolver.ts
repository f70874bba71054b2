import { Arg, Authorized, Ctx, Query, Resolver } from 'type-graphql';
import type { RequestContext } from '../server/context.js';
import { statusAggregation } from './status-aggregation.service.js';
import { AggregationBucket, StatusBucket } from './status-aggregation.types.js';

@Resolver()
export class DashboardResolver {
  @Authorized()
  @Query(() => [StatusBucket], {
    description:
      'Runs created in [since, until), counted by status per time bucket (UTC-aligned), one ' +
      'entry per bucket of the range, empty ones included; at most 1000 buckets.',
  })
  statusAggregation(
    @Arg('since', () => Date) since: Date,
    @Arg('until', () => Date) until: Date,
    @Arg('bucket', () => AggregationBucket, { defaultValue: AggregationBucket.HOUR })
    bucket: AggregationBucket,
    @Ctx() ctx: RequestContext,
  ): Promise<StatusBucket[]> {
    return statusAggregation(ctx.em, { since, until, bucket });
  }
}
