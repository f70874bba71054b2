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
import { ExecutorBinding } from '../executor-bindings/executor-binding.entity.js';
import type { RequestContext } from '../server/context.js';
import { Connection, PageArgs, type Page } from '../shared/pagination.js';
import { TaskInstanceConnection } from '../task-instances/task-instance.connection.js';
import type { TaskInstance } from '../task-instances/task-instance.entity.js';
import { UserRole } from '../users/user-role.js';
import { Task } from './task.entity.js';
import { CreateTaskInput, TaskFilter, UpdateTaskInput } from './task.inputs.js';
import { EnvironmentVariable, HttpRequest } from './task-spec.types.js';
import { TaskKind } from './task-kind.js';
import { toEnvironmentList, toHttpRequest } from './task-spec.mapping.js';

const TaskConnection = Connection(Task, 'Task');

@Resolver(() => Task)
export class TaskResolver {
  @Authorized()
  @Query(() => Task)
  task(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Task> {
    return ctx.services.tasks.get(ctx.em, id);
  }

  @Authorized()
  @Query(() => TaskConnection, { description: 'Tasks by id.' })
  tasks(
    @Args(() => PageArgs) page: PageArgs,
    @Arg('filter', () => TaskFilter, { nullable: true }) filter: TaskFilter | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<Page<Task>> {
    return ctx.services.tasks.list(ctx, filter, page);
  }

  @Authorized()
  @Query(() => [Date], {
    description:
      'Previews a schedule: the next `count` (1..100) fire times strictly after `after` ' +
      '(default: now). A time a daylight-saving change skips or repeats fires once.',
  })
  nextFireTimes(
    @Arg('cronExpression', () => String) cronExpression: string,
    @Arg('timeZone', () => String, { nullable: true, defaultValue: 'UTC' })
    timeZone: string | null,
    @Arg('count', () => Int, { nullable: true, defaultValue: 5 }) count: number | null,
    @Arg('after', () => Date, { nullable: true }) after: Date | null | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<Date[]> {
    return ctx.services.tasks.previewFireTimes(ctx, {
      cronExpression,
      // An explicit null means the default, as when the argument is left out.
      timeZone: timeZone ?? 'UTC',
      count: count ?? 5,
      after,
    });
  }

  @Authorized(UserRole.USER)
  @Mutation(() => Task, { description: 'Creates a task owned by the caller.' })
  createTask(
    @Arg('input', () => CreateTaskInput) input: CreateTaskInput,
    @Ctx() ctx: RequestContext,
  ): Promise<Task> {
    return ctx.services.tasks.create(ctx, input);
  }

  @Authorized(UserRole.USER)
  @Mutation(() => Task, { description: 'Changes a task. Owner or admin.' })
  updateTask(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateTaskInput) input: UpdateTaskInput,
    @Ctx() ctx: RequestContext,
  ): Promise<Task> {
    return ctx.services.tasks.update(ctx, id, input);
  }

  @Authorized(UserRole.USER)
  @Mutation(() => ID, {
    description:
      'Deletes a task with no run scheduled, dispatched or running (CONFLICT otherwise). Its ' +
      'finished runs stay, with their snapshot and a null taskId. Owner or admin.',
  })
  deleteTask(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<number> {
    return ctx.services.tasks.delete(ctx, id);
  }

  @FieldResolver(() => [ExecutorBinding], { description: 'Where it may run, by binding id.' })
  bindings(@Root() task: Task, @Ctx() ctx: RequestContext): Promise<ExecutorBinding[]> {
    return ctx.services.tasks.bindingsOf(task);
  }

  @FieldResolver(() => [EnvironmentVariable], {
    description: 'Environment variables of a SHELL run, by name.',
  })
  env(@Root() task: Task): EnvironmentVariable[] {
    return toEnvironmentList(task.env);
  }

  @FieldResolver(() => HttpRequest, {
    nullable: true,
    description: 'The request of an HTTP task, headers by name; null for SHELL tasks.',
  })
  httpRequest(@Root() task: Task): HttpRequest | null {
    return task.kind === TaskKind.HTTP && task.httpRequest ? toHttpRequest(task.httpRequest) : null;
  }

  @FieldResolver(() => ID, {
    nullable: true,
    description: 'The user who owns it (null once they are deleted).',
  })
  ownerId(@Root() task: Task): number | null {
    return task.owner?.id ?? null;
  }

  @FieldResolver(() => TaskInstanceConnection, { description: 'Its runs, newest first.' })
  instances(
    @Root() task: Task,
    @Args(() => PageArgs) page: PageArgs,
    @Ctx() ctx: RequestContext,
  ): Promise<Page<TaskInstance>> {
    return ctx.services.taskInstances.listForTask(ctx, task, page);
  }
}
