import type { AuthCheckerFn } from 'type-graphql';
import { ForbiddenError, UnauthenticatedError } from '../shared/app-error.js';
import type { RequestContext } from '../server/context.js';
import { UserRole } from '../users/user-role.js';
import type { Principal } from './principal.js';

/**
 * The one place roles are enforced. `@Authorized()` needs any logged-in user;
 * `@Authorized(UserRole.USER)` needs USER (ADMIN passes every check).
 */
export const authChecker: AuthCheckerFn<RequestContext, UserRole> = ({ context }, roles) => {
  const principal = requirePrincipal(context);
  if (roles.length === 0 || principal.role === UserRole.ADMIN || roles.includes(principal.role)) {
    return true;
  }
  throw new ForbiddenError(`This needs the role ${roles.join(' or ')}; you are ${principal.role}.`);
};

export function requirePrincipal(
  context: Pick<RequestContext, 'principal' | 'authFailure'>,
): Principal {
  if (context.authFailure) throw context.authFailure;
  if (!context.principal) {
    throw new UnauthenticatedError('Log in first: send "Authorization: Bearer <token>".');
  }
  return context.principal;
}

/** ADMIN changes anything; others change only what they own. */
export function assertOwnerOrAdmin(
  principal: Principal,
  ownerId: number | null | undefined,
  what: string,
): void {
  if (principal.role === UserRole.ADMIN) return;
  if (principal.role !== UserRole.GUEST && ownerId === principal.userId) return;
  throw new ForbiddenError(`Only its owner or an admin can change ${what}.`);
}
