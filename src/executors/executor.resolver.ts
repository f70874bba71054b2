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
import { ExecutorBinding } from '../executor-bindings/executor-binding.entity.js';
import type { RequestContext } from '../server/context.js';
import { Connection, PageArgs, type Page } from '../shared/pagination.js';
import { UserRole } from '../users/user-role.js';
import { Executor } from './executor.entity.js';
import { CreateExecutorInput, ExecutorFilter, UpdateExecutorInput } from './executor.inputs.js';

const ExecutorConnection = Connection(Executor, 'Executor');

@Resolver(() => Executor)
export class ExecutorResolver {
  @Authorized()
  @Query(() => Executor)
  executor(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Executor> {
    return ctx.services.executors.get(ctx.em, id);
  }

  @Authorized()
  @Query(() => ExecutorConnection, { description: 'Executors by id.' })
  executors(
    @Args(() => PageArgs) page: PageArgs,
    @Arg('filter', () => ExecutorFilter, { nullable: true }) filter: ExecutorFilter | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<Page<Executor>> {
    return ctx.services.executors.list(ctx, filter, page);
  }

  @Authorized(UserRole.ADMIN)
  @Mutation(() => Executor)
  createExecutor(
    @Arg('input', () => CreateExecutorInput) input: CreateExecutorInput,
    @Ctx() ctx: RequestContext,
  ): Promise<Executor> {
    return ctx.services.executors.create(ctx, input);
  }

  @Authorized(UserRole.ADMIN)
  @Mutation(() => Executor)
  updateExecutor(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateExecutorInput) input: UpdateExecutorInput,
    @Ctx() ctx: RequestContext,
  ): Promise<Executor> {
    return ctx.services.executors.update(ctx, id, input);
  }

  @Authorized(UserRole.ADMIN)
  @Mutation(() => ID, { description: 'Deletes an executor that has no bindings.' })
  deleteExecutor(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<number> {
    return ctx.services.executors.delete(ctx, id);
  }

  @FieldResolver(() => [ExecutorBinding], { description: 'Groups it is bound into, by id.' })
  bindings(@Root() executor: Executor, @Ctx() ctx: RequestContext): Promise<ExecutorBinding[]> {
    return ctx.services.executorBindings.ofExecutor(ctx.em, executor.id);
  }
}
