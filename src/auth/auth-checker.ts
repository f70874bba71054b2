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

/**
 * Whose things `principal` may change: anyone's (ADMIN), or those owned by `ownerId` (USER; null
 * for a GUEST, who changes nothing). For checks made in SQL as well as by assertOwnerOrAdmin.
 */
export function changeableOwners(principal: Principal): {
  anyOwner: boolean;
  ownerId: number | null;
} {
  return {
    anyOwner: principal.role === UserRole.ADMIN,
    ownerId: principal.role === UserRole.GUEST ? null : principal.userId,
  };
}

/** ADMIN changes anything; others change only what they own. */
export function assertOwnerOrAdmin(
  principal: Principal,
  ownerId: number | null | undefined,
  what: string,
): void {
  const changeable = changeableOwners(principal);
  if (changeable.anyOwner) return;
  if (changeable.ownerId !== null && ownerId === changeable.ownerId) return;
  throw new ForbiddenError(`Only its owner or an admin can change ${what}.`);
}
