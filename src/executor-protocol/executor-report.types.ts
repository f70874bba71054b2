import { Field, ID, Int, ObjectType } from 'type-graphql';

@ObjectType()
export class AppendTaskLogsResult {
  @Field(() => Int, { description: 'Chunks stored by this call.' })
  stored!: number;

  @Field(() => Int, { description: 'Chunks already stored before (a replay); nothing changed.' })
  duplicates!: number;
}

@ObjectType()
export class ExecutorHeartbeatResult {
  @Field(() => Date)
  serverTime!: Date;

  @Field(() => [ID], {
    description:
      'Of the instances reported running, those this executor should no longer run ' +
      '(cancelled, reassigned or finished): kill them.',
  })
  abandonedInstanceIds!: string[];
}

@ObjectType()
export class CreatedEnrollmentToken {
  @Field(() => String, { description: 'The secret; shown only this once.' })
  token!: string;

  @Field(() => Date)
  expiresAt!: Date;

  @Field(() => ID, { nullable: true, description: 'The group a registering executor joins.' })
  groupId!: string | null;
}
