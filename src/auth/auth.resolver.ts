import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { RequestContext } from '../server/context.js';
import { User } from '../users/user.entity.js';
import { ApiToken } from './api-token.entity.js';
import { AuthPayload, CreateApiTokenInput, CreatedApiToken } from './auth.types.js';
import { requirePrincipal } from './auth-checker.js';

@Resolver()
export class AuthResolver {
  @Mutation(() => AuthPayload, { description: 'Exchanges a username and password for tokens.' })
  login(
    @Arg('username', () => String) username: string,
    @Arg('password', () => String) password: string,
    @Ctx() ctx: RequestContext,
  ): Promise<AuthPayload> {
    return ctx.services.auth.login(ctx, username, password);
  }

  @Mutation(() => AuthPayload, { description: 'Exchanges a refresh token for new tokens.' })
  refreshToken(
    @Arg('refreshToken', () => String) refreshToken: string,
    @Ctx() ctx: RequestContext,
  ): Promise<AuthPayload> {
    return ctx.services.auth.refresh(ctx, refreshToken);
  }

  @Authorized()
  @Mutation(() => Boolean, {
    description: 'Ends this login: its access and refresh tokens stop working.',
  })
  logout(@Ctx() ctx: RequestContext): Promise<boolean> {
    return ctx.services.auth.logout(ctx);
  }

  @Authorized()
  @Mutation(() => Boolean, { description: 'Sets a new password and ends your other sessions.' })
  changeMyPassword(
    @Arg('currentPassword', () => String) currentPassword: string,
    @Arg('newPassword', () => String) newPassword: string,
    @Ctx() ctx: RequestContext,
  ): Promise<boolean> {
    return ctx.services.auth.changePassword(ctx, currentPassword, newPassword);
  }

  @Authorized()
  @Query(() => User, { description: 'The user making the request.' })
  me(@Ctx() ctx: RequestContext): Promise<User> {
    return ctx.services.auth.currentUser(ctx.em, requirePrincipal(ctx).userId);
  }

  @Authorized()
  @Query(() => [ApiToken], { description: 'Your API tokens (without their secrets).' })
  apiTokens(@Ctx() ctx: RequestContext): Promise<ApiToken[]> {
    return ctx.services.auth.apiTokens(ctx);
  }

  @Authorized()
  @Mutation(() => CreatedApiToken, { description: 'A token for scripts, acting as you.' })
  createApiToken(
    @Arg('input', () => CreateApiTokenInput) input: CreateApiTokenInput,
    @Ctx() ctx: RequestContext,
  ): Promise<CreatedApiToken> {
    return ctx.services.auth.createApiToken(ctx, input);
  }

  @Authorized()
  @Mutation(() => ApiToken)
  revokeApiToken(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<ApiToken> {
    return ctx.services.auth.revokeApiToken(ctx, id);
  }
}
