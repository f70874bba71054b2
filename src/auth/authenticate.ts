import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../database/sql.js';
import { UnauthenticatedError } from '../shared/app-error.js';
import type { UserRole } from '../users/user-role.js';
import { verifyAccessToken } from './access-tokens.js';
import type { ExecutorPrincipal } from './executor-principal.js';
import { isExecutorToken, verifyExecutorToken } from './executor-tokens.js';
import type { Principal } from './principal.js';
import type { PrincipalCache } from './principal-cache.js';
import { apiTokenPrefix, sha256 } from './secrets.js';
import type { KeyRing } from './signing-keys.js';

interface PrincipalRow {
  user_id: number;
  username: string;
  role: UserRole;
  is_enabled: boolean;
  credential_id: string | number;
  is_valid: boolean;
  /** When the credential expires (null: never). */
  expires_at: Date | string | null;
}

export interface Credentials {
  readonly principal: Principal | null;
  readonly executor: ExecutorPrincipal | null;
}

export const noCredentials: Credentials = { principal: null, executor: null };

/**
 * Resolves an `Authorization` header to a user or an executor; see `authenticateUser` and
 * `verifyExecutorToken` for the rules of each.
 */
export async function authenticate(
  em: EntityManager,
  keys: KeyRing,
  principals: PrincipalCache,
  authorization: string | undefined,
): Promise<Credentials> {
  const token = bearerToken(authorization);
  if (!token) return noCredentials;
  if (isExecutorToken(token))
    return { principal: null, executor: await verifyExecutorToken(em, token) };
  return { principal: await authenticateUser(em, keys, principals, token), executor: null };
}

function bearerToken(authorization: string | undefined): string | null {
  if (!authorization) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match?.[1]) {
    throw new UnauthenticatedError('The Authorization header must be "Bearer <token>".');
  }
  return match[1];
}

/**
 * Resolves a user's bearer token (access token or API token) to a principal, or throws
 * UnauthenticatedError when it does not identify an enabled user. The user's role and state
 * come from the database, as of a moment ago at most (`PrincipalCache`: a change made through
 * the API takes effect at once).
 */
async function authenticateUser(
  em: EntityManager,
  keys: KeyRing,
  principals: PrincipalCache,
  token: string,
): Promise<Principal> {
  return token.startsWith(apiTokenPrefix)
    ? byApiToken(em, principals, token)
    : byAccessToken(em, keys, principals, token);
}

async function byAccessToken(
  em: EntityManager,
  keys: KeyRing,
  principals: PrincipalCache,
  token: string,
): Promise<Principal> {
  const claims = await verifyAccessToken(keys, token);
  return principals.resolve(`session:${claims.sessionId}:${claims.userId}`, async () => {
    const [row] = await query<PrincipalRow>(
      em,
      `select u.id as user_id, u.username, u.role, u.is_enabled, s.id as credential_id,
              (s.revoked_at is null and s.expires_at > now()) as is_valid, s.expires_at
         from sessions s join users u on u.id = s.user_id
        where s.id = $1 and u.id = $2`,
      [claims.sessionId, claims.userId],
      { prepare: true },
    );
    return toPrincipal(row, 'The session has ended; log in again.', (r) => ({
      sessionId: String(r.credential_id),
      apiTokenId: null,
    }));
  });
}

async function byApiToken(
  em: EntityManager,
  principals: PrincipalCache,
  token: string,
): Promise<Principal> {
  // Looked up by hash: the comparison happens on a digest, never on the secret itself.
  const hash = sha256(token);
  return principals.resolve(`api:${hash}`, async () => {
    // last_used_at is kept to the minute, and a remembered token is looked up again within it.
    const [row] = await query<PrincipalRow>(
      em,
      `update api_tokens t
          set last_used_at = case when t.last_used_at is null or t.last_used_at < now() - interval '1 minute'
                                  then now() else t.last_used_at end
         from users u
        where u.id = t.user_id and t.token_hash = $1
    returning u.id as user_id, u.username, u.role, u.is_enabled, t.id as credential_id,
              (t.revoked_at is null and (t.expires_at is null or t.expires_at > now())) as is_valid,
              t.expires_at`,
      [hash],
      { prepare: true },
    );
    return toPrincipal(row, 'The API token is revoked, expired or unknown.', (r) => ({
      sessionId: null,
      apiTokenId: Number(r.credential_id),
    }));
  });
}

function toPrincipal(
  row: PrincipalRow | undefined,
  invalidMessage: string,
  credential: (row: PrincipalRow) => Pick<Principal, 'sessionId' | 'apiTokenId'>,
): { principal: Principal; expiresAtMs: number | null } {
  if (!row || !row.is_valid) throw new UnauthenticatedError(invalidMessage);
  if (!row.is_enabled) throw new UnauthenticatedError('This user is disabled.');
  return {
    principal: { userId: row.user_id, username: row.username, role: row.role, ...credential(row) },
    expiresAtMs: row.expires_at === null ? null : new Date(row.expires_at).getTime(),
  };
}
