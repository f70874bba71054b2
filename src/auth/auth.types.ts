import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { User } from '../users/user.entity.js';
import { ApiToken } from './api-token.entity.js';

@ObjectType({ description: 'Tokens from `login` or `refreshToken`.' })
export class AuthPayload {
  @Field(() => String, { description: 'RS256 JWT; send as `Authorization: Bearer <token>`.' })
  accessToken!: string;

  @Field(() => Date)
  accessTokenExpiresAt!: Date;

  @Field(() => String, { description: 'Single use: `refreshToken` returns a new one.' })
  refreshToken!: string;

  @Field(() => Date)
  refreshTokenExpiresAt!: Date;

  @Field(() => User)
  user!: User;
}

@InputType()
export class CreateApiTokenInput {
  @Field(() => String)
  name!: string;

  @Field(() => Int, { nullable: true, description: 'Omit for a token that does not expire.' })
  expiresInSeconds?: number | null;
}

@ObjectType()
export class CreatedApiToken {
  @Field(() => String, { description: 'The secret. It is shown only this once.' })
  token!: string;

  @Field(() => ApiToken)
  apiToken!: ApiToken;
}
