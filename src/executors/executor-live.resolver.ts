import { Resolver, Root, Subscription } from 'type-graphql';
import { requirePrincipal } from '../auth/auth-checker.js';
import { channels } from '../pubsub/channels.js';
import { watch } from '../pubsub/watch.js';
import type { RequestContext } from '../server/context.js';
import { Executor } from './executor.entity.js';

@Resolver(() => Executor)
export class ExecutorLiveResolver {
  @Subscription(() => Executor, {
    description: 'Executors as they come online or go offline (or are changed).',
    subscribe: ({ context }) => {
      const ctx = context as RequestContext;
      requirePrincipal(ctx);
      return watch(
        ctx.services.bus,
        ctx.services.logger,
        channels.executors,
        () => true,
        (payload) => ctx.em.fork().findOne(Executor, { id: Number(payload) }),
      );
    },
  })
  executorStatusChanged(@Root() executor: Executor): Executor {
    return executor;
  }
}
