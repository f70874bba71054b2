import { Field, ID, InputType, Int } from 'type-graphql';

const weightDescription = 'Share of work under WEIGHTED routing, 1..10000.';

@InputType()
export class CreateExecutorBindingInput {
  @Field(() => String, { description: '1..100 characters.' })
  name!: string;

  @Field(() => ID, { description: 'A group you own (any group, for an admin).' })
  groupId!: string;

  @Field(() => ID)
  executorId!: string;

  @Field(() => Int, { defaultValue: 1, description: weightDescription })
  weight: number = 1;
}

@InputType({ description: 'Omitted (or null) fields stay as they are.' })
export class UpdateExecutorBindingInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => ID, {
    nullable: true,
    description: 'Moves the binding, and so every task that points at it, to this executor.',
  })
  executorId?: string | null;

  @Field(() => Int, { nullable: true, description: weightDescription })
  weight?: number | null;
}

@InputType()
export class ExecutorBindingFilter {
  @Field(() => ID, { nullable: true })
  groupId?: string | null;

  @Field(() => ID, { nullable: true })
  executorId?: string | null;
}
