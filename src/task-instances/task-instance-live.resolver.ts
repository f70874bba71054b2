import { Arg, Authorized, Ctx, ID, Mutation, Resolver, Root, Subscription } from 'type-graphql';
import { requirePrincipal } from '../auth/auth-checker.js';
import { channels } from '../pubsub/channels.js';
import { watch } from '../pubsub/watch.js';
import type { RequestContext } from '../server/context.js';
import { ifGiven, parseBigId, parseId } from '../shared/validation.js';
import { TaskInstance } from './task-instance.entity.js';
import { cancelTaskInstance } from './task-instance-cancel.js';

@Resolver(() => TaskInstance)
export class TaskInstanceLiveResolver {
  @Authorized()
  @Mutation(() => TaskInstance, {
    description:
      'Cancels a run: one waiting for dispatch ends at once; one on an executor is killed there ' +
      'and ends MANUAL_CANCELLATION. CONFLICT if it already ended.',
  })
  cancelTaskInstance(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: RequestContext,
  ): Promise<TaskInstance> {
    return cancelTaskInstance(ctx, id);
  }

  @Subscription(() => TaskInstance, {
    description: 'Runs as they change: one run, the runs of one task, or all runs.',
    subscribe: ({ args, context }) => {
      const ctx = context as RequestContext;
      requirePrincipal(ctx);
      const { instanceId, taskId } = args as { instanceId?: string | null; taskId?: string | null };
      const onlyInstance = ifGiven(instanceId ?? undefined, (v) => parseBigId('instanceId', v));
      const onlyTask = ifGiven(taskId ?? undefined, (v) => parseId('taskId', v));
      return watch(
        ctx.services.bus,
        ctx.services.logger,
        channels.instances,
        (payload) => onlyInstance === undefined || payload === onlyInstance,
        async (payload) => {
          const instance = await ctx.em.fork().findOne(TaskInstance, { id: payload });
          if (!instance || (onlyTask !== undefined && instance.task?.id !== onlyTask)) return null;
          return instance;
        },
      );
    },
  })
  taskInstanceUpdated(
    @Arg('instanceId', () => ID, { nullable: true }) _instanceId: string | null,
    @Arg('taskId', () => ID, { nullable: true }) _taskId: string | null,
    @Root() instance: TaskInstance,
  ): TaskInstance {
    return instance;
  }
}
