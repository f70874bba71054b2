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
import { ExecutorGroup } from './executor-group.entity.js';
import {
  CreateExecutorGroupInput,
  ExecutorGroupFilter,
  UpdateExecutorGroupInput,
} from './executor-group.inputs.js';

const ExecutorGroupConnection = Connection(ExecutorGroup, 'ExecutorGroup');

@Resolver(() => ExecutorGroup)
export class ExecutorGroupResolver {
  @Authorized()
  @Query(() => ExecutorGroup)
  executorGroup(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: RequestContext,
  ): Promise<ExecutorGroup> {
    return ctx.services.executorGroups.get(ctx.em, id);
  }

  @Authorized()
  @Query(() => ExecutorGroupConnection, { description: 'Executor groups by id.' })
  executorGroups(
    @Args(() => PageArgs) page: PageArgs,
    @Arg('filter', () => ExecutorGroupFilter, { nullable: true })
    filter: ExecutorGroupFilter | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<Page<ExecutorGroup>> {
    return ctx.services.executorGroups.list(ctx, filter, page);
  }

  @Authorized(UserRole.USER)
  @Mutation(() => ExecutorGroup, { description: 'Creates a group owned by the caller.' })
  createExecutorGroup(
    @Arg('input', () => CreateExecutorGroupInput) input: CreateExecutorGroupInput,
    @Ctx() ctx: RequestContext,
  ): Promise<ExecutorGroup> {
    return ctx.services.executorGroups.create(ctx, input);
  }

  @Authorized(UserRole.USER)
  @Mutation(() => ExecutorGroup, { description: 'Its owner or an admin.' })
  updateExecutorGroup(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateExecutorGroupInput) input: UpdateExecutorGroupInput,
    @Ctx() ctx: RequestContext,
  ): Promise<ExecutorGroup> {
    return ctx.services.executorGroups.update(ctx, id, input);
  }

  @Authorized(UserRole.USER)
  @Mutation(() => ID, {
    description: 'Deletes a group that has no bindings. Its owner or an admin.',
  })
  deleteExecutorGroup(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: RequestContext,
  ): Promise<number> {
    return ctx.services.executorGroups.delete(ctx, id);
  }

  @FieldResolver(() => ID, {
    nullable: true,
    description:
      'The user who may change it besides admins; null once that user is deleted. Only the id: ' +
      'guests may read groups but not users.',
  })
  ownerId(@Root() group: ExecutorGroup): number | null {
    return group.owner?.id ?? null;
  }

  @FieldResolver(() => [ExecutorBinding], { description: 'Its executors, by binding id.' })
  bindings(@Root() group: ExecutorGroup, @Ctx() ctx: RequestContext): Promise<ExecutorBinding[]> {
    return ctx.services.executorBindings.ofGroup(ctx.em, group.id);
  }
}
