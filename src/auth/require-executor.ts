import type { RequestContext } from '../server/context.js';
import { UnauthenticatedError } from '../shared/app-error.js';
import type { ExecutorPrincipal } from './executor-principal.js';

/** For operations only executors may call: they must present an executor token. */
export function requireExecutor(
  context: Pick<RequestContext, 'executor' | 'authFailure'>,
): ExecutorPrincipal {
  if (context.authFailure) throw context.authFailure;
  if (!context.executor) {
    throw new UnauthenticatedError(
      'Only executors may call this: send a token signed with the executor key ("Authorization: Bearer <jwt>").',
    );
  }
  return context.executor;
}
