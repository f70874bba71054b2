import { Arg, ID, Resolver, Root, Subscription } from 'type-graphql';
import { requirePrincipal } from '../auth/auth-checker.js';
import type { RequestContext } from '../server/context.js';
import { NotFoundError } from '../shared/app-error.js';
import { parseBigId } from '../shared/validation.js';
import { instanceExists, tailTaskLog } from './task-log-tail.js';
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
      if (!(await instanceExists(ctx.em.fork(), id))) throw new NotFoundError('TaskInstance', id);
      return tailTaskLog(ctx.em, ctx.services.bus, id);
    },
  })
  taskLogAppended(@Arg('instanceId', () => ID) _instanceId: string, @Root() log: TaskLog): TaskLog {
    return log;
  }
}
