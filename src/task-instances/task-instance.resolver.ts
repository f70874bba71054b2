import {
  Arg,
  Args,
  Authorized,
  Ctx,
  FieldResolver,
  ID,
  Int,
  Mutation,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import type { RequestContext } from '../server/context.js';
import { PageArgs, type Page } from '../shared/pagination.js';
import { TaskLogConnection } from '../task-logs/task-log.connection.js';
import { EnvironmentVariable, HttpRequest } from '../tasks/task-spec.types.js';
import { TaskKind } from '../tasks/task-kind.js';
import { toEnvironmentList, toHttpRequest } from '../tasks/task-spec.mapping.js';
import type { TaskLog } from '../task-logs/task-log.entity.js';
import { UserRole } from '../users/user-role.js';
import { TaskInstanceAttempt } from './task-instance-attempt.entity.js';
import { TaskInstanceConnection } from './task-instance.connection.js';
import { TaskInstance } from './task-instance.entity.js';
import { RunTaskOverrides, RunTaskRequest } from './run-overrides.js';
import { maxRunsPerCall } from './task-instance.service.js';
import { TaskInstanceFilter } from './task-instance.inputs.js';

@Resolver(() => TaskInstance)
export class TaskInstanceResolver {
  @Authorized()
  @Query(() => TaskInstance)
  taskInstance(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<TaskInstance> {
    return ctx.services.taskInstances.get(ctx.em, id);
  }

  @Authorized()
  @Query(() => TaskInstanceConnection, { description: 'Runs, newest first.' })
  taskInstances(
    @Args(() => PageArgs) page: PageArgs,
    @Arg('filter', () => TaskInstanceFilter, { nullable: true })
    filter: TaskInstanceFilter | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<Page<TaskInstance>> {
    return ctx.services.taskInstances.list(ctx, filter, page);
  }

  @Authorized(UserRole.USER)
  @Mutation(() => TaskInstance, {
    description:
      'Runs a task now (trigger MANUAL) with a snapshot of its fields; it waits SCHEDULED for ' +
      'an executor. Owner of the task or admin.',
  })
  runTask(
    @Arg('id', () => ID) id: string,
    @Arg('overrides', () => RunTaskOverrides, { nullable: true })
    overrides: RunTaskOverrides | null,
    @Ctx() ctx: RequestContext,
  ): Promise<TaskInstance> {
    return ctx.services.taskInstances.run(ctx, id, overrides);
  }

  @Authorized(UserRole.USER)
  @Mutation(() => [TaskInstance], {
    description:
      `Runs many tasks now (at most ${maxRunsPerCall} runs per call), as runTask does for each, ` +
      'in one transaction: all runs are created, or none (the error names the refused one). ' +
      'The same task may appear more than once.',
  })
  runTasks(
    @Arg('runs', () => [RunTaskRequest]) runs: RunTaskRequest[],
    @Ctx() ctx: RequestContext,
  ): Promise<TaskInstance[]> {
    return ctx.services.taskInstances.runMany(ctx, runs);
  }

  @Authorized(UserRole.USER)
  @Mutation(() => ID, {
    description:
      'Deletes a run that is over, with its logs. Owner of the task or admin (admin only once ' +
      'the task is deleted).',
  })
  deleteTaskInstance(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<string> {
    return ctx.services.taskInstances.delete(ctx, id);
  }

  @FieldResolver(() => Int, { description: 'The numeric code of `status` (seed codes).' })
  statusCode(@Root() instance: TaskInstance): number {
    return instance.status;
  }

  @FieldResolver(() => [EnvironmentVariable], {
    description: 'Environment variables of the run (snapshot), by name.',
  })
  env(@Root() instance: TaskInstance): EnvironmentVariable[] {
    return toEnvironmentList(instance.env);
  }

  @FieldResolver(() => HttpRequest, {
    nullable: true,
    description: 'The request of an HTTP run (snapshot), headers by name; null for SHELL runs.',
  })
  httpRequest(@Root() instance: TaskInstance): HttpRequest | null {
    return instance.kind === TaskKind.HTTP && instance.httpRequest
      ? toHttpRequest(instance.httpRequest)
      : null;
  }

  @FieldResolver(() => ID, { nullable: true, description: 'Null once the task is deleted.' })
  taskId(@Root() instance: TaskInstance): number | null {
    return instance.task?.id ?? null;
  }

  @FieldResolver(() => [TaskInstanceAttempt], {
    description:
      'Earlier attempts of the run (retried or re-dispatched), by attempt; the current one is ' +
      'the run itself.',
  })
  attempts(
    @Root() instance: TaskInstance,
    @Ctx() ctx: RequestContext,
  ): Promise<TaskInstanceAttempt[]> {
    return ctx.services.taskInstances.attemptsOf(ctx.em, instance);
  }

  @FieldResolver(() => TaskLogConnection, {
    description: 'Output in (attempt, seq) order; `attempt` narrows it to one attempt.',
  })
  logs(
    @Root() instance: TaskInstance,
    @Args(() => PageArgs) page: PageArgs,
    @Arg('attempt', () => Int, { nullable: true }) attempt: number | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<Page<TaskLog>> {
    return ctx.services.taskLogs.list(ctx, instance, attempt, page);
  }
}
