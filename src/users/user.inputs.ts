import { Field, InputType } from 'type-graphql';
import { UserRole } from './user-role.js';

@InputType()
export class CreateUserInput {
  @Field(() => String, { description: '3..64 of letters, digits, `_`, `.`, `-`.' })
  username!: string;

  @Field(() => String, { description: '8..256 characters.' })
  password!: string;

  @Field(() => UserRole, { defaultValue: UserRole.USER })
  role: UserRole = UserRole.USER;

  @Field(() => String, { nullable: true })
  nickName?: string | null;

  @Field(() => String, { nullable: true })
  email?: string | null;

  @Field(() => String, { nullable: true })
  mobile?: string | null;

  @Field(() => String, { nullable: true })
  avatarUrl?: string | null;

  @Field(() => Boolean, { defaultValue: true })
  isEnabled: boolean = true;
}

/** Fields a user may change on their own profile. Omitted fields stay as they are. */
@InputType()
export class UpdateProfileInput {
  @Field(() => String, { nullable: true })
  nickName?: string | null;

  @Field(() => String, { nullable: true })
  email?: string | null;

  @Field(() => String, { nullable: true })
  mobile?: string | null;

  @Field(() => String, { nullable: true })
  avatarUrl?: string | null;
}

/** What an admin may change on any user. Omitted fields stay as they are. */
@InputType()
export class UpdateUserInput extends UpdateProfileInput {
  @Field(() => String, { nullable: true })
  username?: string;

  @Field(() => String, { nullable: true, description: 'Sets a new password.' })
  password?: string;

  @Field(() => UserRole, { nullable: true })
  role?: UserRole;

  @Field(() => Boolean, { nullable: true })
  isEnabled?: boolean;
}

@InputType()
export class UserFilter {
  @Field(() => UserRole, { nullable: true })
  role?: UserRole;

  @Field(() => Boolean, { nullable: true })
  isEnabled?: boolean;

  @Field(() => String, { nullable: true, description: 'Part of the username, nick name or email.' })
  search?: string;
}
