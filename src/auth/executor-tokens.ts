import { createPublicKey, type KeyObject } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { decodeJwt, errors, jwtVerify } from 'jose';
import { UnauthenticatedError } from '../shared/app-error.js';
import { BoundedMap } from '../shared/bounded-map.js';
import type { ExecutorPrincipal } from './executor-principal.js';

export const executorAudience = 'graphcron-executor';
/** Executor tokens must be short-lived: `exp` at most this far after `iat`. */
export const maxExecutorTokenLifetimeSeconds = 300;
const clockToleranceSeconds = 30;

/** True when a bearer token claims to be an executor's (its audience says so). */
export function isExecutorToken(token: string): boolean {
  try {
    const { aud } = decodeJwt(token);
    return aud === executorAudience || (Array.isArray(aud) && aud.includes(executorAudience));
  } catch {
    return false;
  }
}

/**
 * Verifies an RS256 token signed by an executor's own private key against the public key stored
 * for it, and records its `jti` so that the same token is refused if presented again.
 */
export async function verifyExecutorToken(
  em: EntityManager,
  token: string,
): Promise<ExecutorPrincipal> {
  let executorId: number;
  try {
    executorId = Number(decodeJwt(token).sub);
  } catch {
    throw new UnauthenticatedError('The executor token is malformed.');
  }
  if (!Number.isSafeInteger(executorId) || executorId <= 0) {
    throw new UnauthenticatedError('The executor token must name the executor id in `sub`.');
  }
  const [executor] = await em.execute<
    { name: string; public_key: string | null; is_enabled: boolean }[]
  >('select name, public_key, is_enabled from executors where id = ?', [executorId]);
  if (!executor) throw new UnauthenticatedError(`Executor ${executorId} is not registered.`);
  if (!executor.public_key) {
    throw new UnauthenticatedError(`Executor ${executorId} has no public key; register it again.`);
  }
  if (!executor.is_enabled) throw new UnauthenticatedError(`Executor ${executorId} is disabled.`);

  let payload;
  try {
    ({ payload } = await jwtVerify(token, publicKeyOf(executor.public_key), {
      audience: executorAudience,
      algorithms: ['RS256'],
      requiredClaims: ['exp', 'iat', 'jti', 'sub'],
      clockTolerance: clockToleranceSeconds,
    }));
  } catch (error) {
    if (error instanceof errors.JWTExpired)
      throw new UnauthenticatedError('The executor token has expired.');
    throw new UnauthenticatedError(
      'The executor token is not valid: it must be RS256, signed by the key registered for this executor.',
    );
  }
  const { exp, iat, jti } = payload as { exp: number; iat: number; jti: string };
  if (
    exp - iat > maxExecutorTokenLifetimeSeconds ||
    iat > Date.now() / 1000 + clockToleranceSeconds
  ) {
    throw new UnauthenticatedError(
      `Executor tokens may live at most ${maxExecutorTokenLifetimeSeconds} seconds and not start in the future.`,
    );
  }
  const fresh = await em.execute<{ jti: string }[]>(
    `insert into executor_token_uses (jti, executor_id, expires_at)
     values (?, ?, to_timestamp(?) + make_interval(secs => ?))
     on conflict (jti) do nothing returning jti`,
    [jti.slice(0, 128), executorId, exp, clockToleranceSeconds],
  );
  if (fresh.length === 0)
    throw new UnauthenticatedError('This executor token was used before (replay).');
  return { executorId, name: executor.name };
}

/** Parsed executor keys by PEM: every report and heartbeat verifies a token. */
const parsedKeys = new BoundedMap<string, KeyObject>(10_000);

/**
 * Parsing a PEM key costs more than verifying a signature with it. Keyed by the PEM itself, so
 * a re-keyed executor simply gets a new entry.
 */
function publicKeyOf(pem: string): KeyObject {
  let key = parsedKeys.get(pem);
  if (!key) {
    key = createPublicKey(pem);
    parsedKeys.set(pem, key);
  }
  return key;
}
