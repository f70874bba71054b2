import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { Field, ID, Int, ObjectType } from 'type-graphql';

@ObjectType({ description: 'One machine or container that runs work.' })
@Entity({ tableName: 'executors' })
export class Executor {
  @Field(() => ID)
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @Field(() => String, { description: 'Unique name.' })
  @Property({ type: 'string', length: 100, unique: true })
  name!: string;

  @Field(() => String)
  @Property({ type: 'text', default: '' })
  description: string = '';

  @Field(() => String)
  @Property({ type: 'string', length: 100, default: '' })
  tag: string = '';

  @Field(() => String, {
    description: '`host:port` the executor is reached at, e.g. `10.0.0.5:9090`.',
  })
  @Property({ type: 'string', length: 300 })
  host!: string;

  @Field(() => Int, { description: 'Unique 0..1023; the machine part of ids the executor makes.' })
  @Property({ type: 'smallint', unique: true })
  machineId!: number;

  @Field(() => String, {
    nullable: true,
    description: "RSA public key (PEM, SPKI) that verifies the executor's tokens.",
  })
  @Property({ type: 'text', nullable: true })
  publicKey: string | null = null;

  @Field(() => Boolean, { description: 'A disabled executor gets no new work and cannot connect.' })
  @Property({ type: 'boolean', default: true })
  isEnabled: boolean = true;

  @Field(() => Boolean, { description: 'Connected and heartbeating.' })
  @Property({ type: 'boolean', default: false })
  isOnline: boolean = false;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'datetime', nullable: true })
  lastHeartbeatAt: Date | null = null;

  @Field(() => Int, { description: 'How many task instances it runs at once.' })
  @Property({ type: 'integer', default: 4 })
  capacity: number = 4;

  @Field(() => Date)
  @Property({ type: 'datetime', defaultRaw: 'now()' })
  createdAt: Date = new Date();

  @Field(() => Date)
  @Property({ type: 'datetime', defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
