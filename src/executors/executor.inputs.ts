import { Field, ID, InputType, Int } from 'type-graphql';

const hostDescription =
  '`host:port`: a DNS name, an IPv4 address or a bracketed IPv6 address, and a port 1..65535.';
const publicKeyDescription =
  'RSA public key of at least 2048 bits, as PEM (SPKI) or as a JWK JSON string; stored as PEM.';

@InputType()
export class CreateExecutorInput {
  @Field(() => String, { description: '1..100 characters, unique.' })
  name!: string;

  @Field(() => String, { defaultValue: '', description: 'At most 2000 characters.' })
  description: string = '';

  @Field(() => String, { defaultValue: '', description: 'At most 100 characters.' })
  tag: string = '';

  @Field(() => String, { description: hostDescription })
  host!: string;

  @Field(() => Int, { description: '0..1023, unique among executors.' })
  machineId!: number;

  @Field(() => String, { nullable: true, description: publicKeyDescription })
  publicKey?: string | null;

  @Field(() => Int, { defaultValue: 4, description: 'Task instances it runs at once, 1..1000.' })
  capacity: number = 4;

  @Field(() => Boolean, { defaultValue: true })
  isEnabled: boolean = true;
}

@InputType({
  description:
    'Omitted (or null) fields stay as they are, except `publicKey`, where null removes the key.',
})
export class UpdateExecutorInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => String, { nullable: true })
  tag?: string | null;

  @Field(() => String, { nullable: true, description: hostDescription })
  host?: string | null;

  @Field(() => Int, { nullable: true })
  machineId?: number | null;

  @Field(() => String, {
    nullable: true,
    description: `${publicKeyDescription} Null or empty removes the key.`,
  })
  publicKey?: string | null;

  @Field(() => Int, { nullable: true })
  capacity?: number | null;

  @Field(() => Boolean, { nullable: true })
  isEnabled?: boolean | null;
}

@InputType()
export class ExecutorFilter {
  @Field(() => String, { nullable: true, description: 'Part of the name, host or description.' })
  search?: string | null;

  @Field(() => String, { nullable: true, description: 'Exactly this tag.' })
  tag?: string | null;

  @Field(() => Boolean, { nullable: true })
  isEnabled?: boolean | null;

  @Field(() => Boolean, { nullable: true })
  isOnline?: boolean | null;

  @Field(() => ID, { nullable: true, description: 'Only executors bound into this group.' })
  groupId?: string | null;
}
