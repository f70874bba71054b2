import { Field, ID, InputType } from 'type-graphql';

@InputType()
export class AuditFilter {
  @Field(() => ID, { nullable: true })
  actorId?: string | null;

  @Field(() => String, { nullable: true, description: 'Mutation name, e.g. `updateTask`.' })
  action?: string | null;

  @Field(() => String, { nullable: true, description: 'GraphQL type name, e.g. `Task`.' })
  entityType?: string | null;

  @Field(() => ID, { nullable: true })
  entityId?: string | null;

  @Field(() => Date, { nullable: true, description: 'Entries at or after this instant.' })
  since?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Entries before this instant.' })
  until?: Date | null;
}
