import { Arg, Args, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { requirePrincipal } from '../auth/auth-checker.js';
import type { RequestContext } from '../server/context.js';
import { Connection, PageArgs, type Page } from '../shared/pagination.js';
import { User } from './user.entity.js';
import { CreateUserInput, UpdateProfileInput, UpdateUserInput, UserFilter } from './user.inputs.js';
import { UserRole } from './user-role.js';

const UserConnection = Connection(User, 'User');

@Resolver(() => User)
export class UserResolver {
  @Authorized(UserRole.USER)
  @Query(() => User)
  user(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<User> {
    return ctx.services.users.get(ctx.em, id);
  }

  @Authorized(UserRole.USER)
  @Query(() => UserConnection, { description: 'Users by id. Not for guests.' })
  users(
    @Args(() => PageArgs) page: PageArgs,
    @Arg('filter', () => UserFilter, { nullable: true }) filter: UserFilter | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<Page<User>> {
    return ctx.services.users.list(ctx, filter, page);
  }

  @Authorized(UserRole.ADMIN)
  @Mutation(() => User)
  createUser(
    @Arg('input', () => CreateUserInput) input: CreateUserInput,
    @Ctx() ctx: RequestContext,
  ): Promise<User> {
    return ctx.services.users.create(ctx, input);
  }

  @Authorized(UserRole.ADMIN)
  @Mutation(() => User)
  updateUser(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateUserInput) input: UpdateUserInput,
    @Ctx() ctx: RequestContext,
  ): Promise<User> {
    return ctx.services.users.update(ctx, id, input);
  }

  @Authorized(UserRole.ADMIN)
  @Mutation(() => ID, { description: 'Deletes a user; what they owned stays, without an owner.' })
  deleteUser(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<number> {
    return ctx.services.users.delete(ctx, id);
  }

  @Authorized()
  @Mutation(() => User, { description: 'Changes your own nick name, email, mobile or avatar.' })
  updateMyProfile(
    @Arg('input', () => UpdateProfileInput) input: UpdateProfileInput,
    @Ctx() ctx: RequestContext,
  ): Promise<User> {
    return ctx.services.users.updateProfile(ctx, requirePrincipal(ctx).userId, input);
  }
}
