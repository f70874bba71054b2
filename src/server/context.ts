import type { EntityManager } from '@mikro-orm/postgresql';
import type { ExecutorPrincipal } from '../auth/executor-principal.js';
import type { Principal } from '../auth/principal.js';
import type { AppError } from '../shared/app-error.js';
import type { Services } from './services.js';

/** Everything a resolver gets for one GraphQL operation. */
export interface RequestContext {
  /** A fresh entity manager for this operation. */
  readonly em: EntityManager;
  /** The user making the request, if a user token was presented. */
  readonly principal: Principal | null;
  /** The executor making the request, if an executor token was presented. */
  readonly executor: ExecutorPrincipal | null;
  /** Why the presented credentials were refused; raised when an operation needs them. */
  readonly authFailure: AppError | null;
  readonly requestId: string;
  readonly clientAddress: string;
  readonly services: Services;
  /**
   * Over a WebSocket: closes it. Its credentials were checked when it connected, and an
   * executor's reports travel over it: an executor found disabled, deleted or re-keyed since
   * must lose the socket, not only its subscription. Absent over HTTP.
   */
  readonly closeConnection?: (code: number, reason: string) => void;
}
