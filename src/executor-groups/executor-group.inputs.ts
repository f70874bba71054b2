import { Field, InputType } from 'type-graphql';

@InputType()
export class CreateExecutorGroupInput {
  @Field(() => String, { description: '1..100 characters, unique.' })
  name!: string;

  @Field(() => String, { defaultValue: '', description: 'At most 2000 characters.' })
  description: string = '';

  @Field(() => String, { defaultValue: '', description: 'At most 100 characters.' })
  tag: string = '';
}

@InputType({ description: 'Omitted (or null) fields stay as they are.' })
export class UpdateExecutorGroupInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => String, { nullable: true })
  tag?: string | null;
}

@InputType()
export class ExecutorGroupFilter {
  @Field(() => String, { nullable: true, description: 'Part of the name or description.' })
  search?: string | null;

  @Field(() => String, { nullable: true, description: 'Exactly this tag.' })
  tag?: string | null;
}
