import {
  Arg,
  Args,
  Authorized,
  Ctx,
  FieldResolver,
  ID,
  Mutation,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import { ExecutorGroup } from '../executor-groups/executor-group.entity.js';
import { Executor } from '../executors/executor.entity.js';
import type { RequestContext } from '../server/context.js';
import { Connection, PageArgs, type Page } from '../shared/pagination.js';
import { UserRole } from '../users/user-role.js';
import { ExecutorBinding } from './executor-binding.entity.js';
import {
  CreateExecutorBindingInput,
  ExecutorBindingFilter,
  UpdateExecutorBindingInput,
} from './executor-binding.inputs.js';

const ExecutorBindingConnection = Connection(ExecutorBinding, 'ExecutorBinding');

@Resolver(() => ExecutorBinding)
export class ExecutorBindingResolver {
  @Authorized()
  @Query(() => ExecutorBinding)
  executorBinding(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: RequestContext,
  ): Promise<ExecutorBinding> {
    return ctx.services.executorBindings.get(ctx.em, id);
  }

  @Authorized()
  @Query(() => ExecutorBindingConnection, { description: 'Executor bindings by id.' })
  executorBindings(
    @Args(() => PageArgs) page: PageArgs,
    @Arg('filter', () => ExecutorBindingFilter, { nullable: true })
    filter: ExecutorBindingFilter | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<Page<ExecutorBinding>> {
    return ctx.services.executorBindings.list(ctx, filter, page);
  }

  @Authorized(UserRole.USER)
  @Mutation(() => ExecutorBinding, {
    description: 'Binds an executor into a group. Admins, or the owner of the group.',
  })
  createExecutorBinding(
    @Arg('input', () => CreateExecutorBindingInput) input: CreateExecutorBindingInput,
    @Ctx() ctx: RequestContext,
  ): Promise<ExecutorBinding> {
    return ctx.services.executorBindings.create(ctx, input);
  }

  @Authorized(UserRole.USER)
  @Mutation(() => ExecutorBinding, { description: 'Admins, or the owner of the group.' })
  updateExecutorBinding(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateExecutorBindingInput) input: UpdateExecutorBindingInput,
    @Ctx() ctx: RequestContext,
  ): Promise<ExecutorBinding> {
    return ctx.services.executorBindings.update(ctx, id, input);
  }

  @Authorized(UserRole.USER)
  @Mutation(() => ID, {
    description: 'Deletes a binding no task uses. Admins, or the owner of the group.',
  })
  deleteExecutorBinding(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: RequestContext,
  ): Promise<number> {
    return ctx.services.executorBindings.delete(ctx, id);
  }

  @FieldResolver(() => ExecutorGroup)
  group(@Root() binding: ExecutorBinding, @Ctx() ctx: RequestContext): Promise<ExecutorGroup> {
    return ctx.services.executorBindings.groupOf(binding);
  }

  @FieldResolver(() => Executor)
  executor(@Root() binding: ExecutorBinding, @Ctx() ctx: RequestContext): Promise<Executor> {
    return ctx.services.executorBindings.executorOf(binding);
  }
}
