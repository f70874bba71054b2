import { Entity, Enum, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { Field, ID, ObjectType } from 'type-graphql';
import { UserRole } from './user-role.js';

@ObjectType({ description: 'A person who uses graphcron.' })
@Entity({ tableName: 'users' })
export class User {
  @Field(() => ID)
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @Field(() => String, { description: 'Unique login name.' })
  @Property({ type: 'string', length: 64, unique: true })
  username!: string;

  @Field(() => String, { nullable: true })
  @Property({ type: 'string', length: 100, nullable: true })
  nickName: string | null = null;

  @Field(() => String, { nullable: true, description: 'Unique when set.' })
  @Property({ type: 'string', length: 254, nullable: true, unique: true })
  email: string | null = null;

  @Field(() => String, { nullable: true, description: 'Unique when set.' })
  @Property({ type: 'string', length: 32, nullable: true, unique: true })
  mobile: string | null = null;

  @Field(() => String, { nullable: true, description: 'URL of an avatar picture.' })
  @Property({ type: 'string', length: 2048, nullable: true })
  avatarUrl: string | null = null;

  @Field(() => UserRole)
  @Enum({ items: () => UserRole })
  role: UserRole = UserRole.USER;

  @Field(() => Boolean, { description: 'A disabled user cannot log in or use tokens.' })
  @Property({ type: 'boolean' })
  isEnabled: boolean = true;

  /** scrypt hash with its parameters and salt; never exposed. */
  @Property({ type: 'text', hidden: true })
  passwordHash!: string;

  @Field(() => Date)
  @Property({ type: 'datetime', defaultRaw: 'now()' })
  createdAt: Date = new Date();

  @Field(() => Date)
  @Property({ type: 'datetime', defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
