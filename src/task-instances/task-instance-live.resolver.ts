import { Arg, Authorized, Ctx, ID, Mutation, Resolver, Root, Subscription } from 'type-graphql';
import { requirePrincipal } from '../auth/auth-checker.js';
import { channels } from '../pubsub/channels.js';
import { watch } from '../pubsub/watch.js';
import type { RequestContext } from '../server/context.js';
import { ifGiven, parseBigId, parseId } from '../shared/validation.js';
import { TaskInstance } from './task-instance.entity.js';
import { assertTaskInstanceExists } from './task-instance-exists.js';
import { cancelTaskInstance } from './task-instance-cancel.js';

/**
 * Two reads of a run that agree on these show the same state: every change a client can see moves
 * one of them (the acknowledgement's time, which only moves itself, is not in the schema).
 */
function runVersion(instance: TaskInstance): string {
  return [
    instance.status,
    instance.attempt,
    instance.updatedAt.getTime(),
    instance.cancelRequestedAt?.getTime() ?? '',
  ].join(':');
}

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
    description:
      'Runs as they change: one run, the runs of one task, or all runs. For one run ' +
      '(`instanceId`), its state as the subscription starts comes first, then each change.',
    subscribe: async ({ args, context }) => {
      const ctx = context as RequestContext;
      requirePrincipal(ctx);
      const { instanceId, taskId } = args as { instanceId?: string | null; taskId?: string | null };
      const onlyInstance = ifGiven(instanceId ?? undefined, (v) => parseBigId('instanceId', v));
      const onlyTask = ifGiven(taskId ?? undefined, (v) => parseId('taskId', v));
      if (onlyInstance !== undefined) await assertTaskInstanceExists(ctx.em.fork(), onlyInstance);
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
        { current: onlyInstance, versionOf: runVersion },
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
