import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, ObjectType } from 'type-graphql';

/** Before and after of each changed field; secrets appear as "[REDACTED]". */
export type AuditChanges = Record<string, { before: unknown; after: unknown }>;

@ObjectType({ description: 'Who changed what, when, with the before and after of each field.' })
@Entity({ tableName: 'audit_entries' })
@Index({ properties: ['entityType', 'entityId'] })
export class AuditEntry {
  @Field(() => ID)
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @Field(() => ID, { nullable: true, description: 'The acting user, unless deleted since.' })
  @Index()
  @Property({ type: 'integer', nullable: true })
  actorId: number | null = null;

  @Field(() => String, { description: 'The acting user or executor, as named at the time.' })
  @Property({ type: 'string', length: 100 })
  actorName!: string;

  @Field(() => String, { description: 'The mutation, e.g. `createTask`.' })
  @Index()
  @Property({ type: 'string', length: 64 })
  action!: string;

  @Field(() => String, { description: 'The GraphQL type changed, e.g. `Task`.' })
  @Property({ type: 'string', length: 64 })
  entityType!: string;

  @Field(() => ID)
  @Property({ type: 'string', length: 64 })
  entityId!: string;

  @Field(() => GraphQLJSONObject, {
    description: 'Changed fields: `{ field: { before, after } }`; secrets are "[REDACTED]".',
  })
  @Property({ type: 'json' })
  changes!: AuditChanges;

  @Field(() => String, { nullable: true })
  @Property({ type: 'string', length: 64, nullable: true })
  requestId: string | null = null;

  @Field(() => Date)
  @Index()
  @Property({ type: 'datetime', defaultRaw: 'now()' })
  createdAt: Date = new Date();
}
