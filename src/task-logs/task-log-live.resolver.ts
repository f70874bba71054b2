import { Arg, ID, Resolver, Root, Subscription } from 'type-graphql';
import { requirePrincipal } from '../auth/auth-checker.js';
import type { RequestContext } from '../server/context.js';
import { parseBigId } from '../shared/validation.js';
import { assertTaskInstanceExists } from '../task-instances/task-instance-exists.js';
import { tailTaskLog } from './task-log-tail.js';
import { TaskLog } from './task-log.entity.js';

@Resolver(() => TaskLog)
export class TaskLogLiveResolver {
  @Subscription(() => TaskLog, {
    description:
      'The output of one run: every chunk stored so far, in order, then new chunks as they ' +
      'arrive, with no gap and no duplicate.',
    subscribe: async ({ args, context }) => {
      const ctx = context as RequestContext;
      requirePrincipal(ctx);
      const id = parseBigId('instanceId', (args as { instanceId: string }).instanceId);
      await assertTaskInstanceExists(ctx.em.fork(), id);
      return tailTaskLog(ctx.em, ctx.services.bus, id);
    },
  })
  taskLogAppended(@Arg('instanceId', () => ID) _instanceId: string, @Root() log: TaskLog): TaskLog {
    return log;
  }
}
