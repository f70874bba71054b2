import { randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';

/** The audience the server expects on executor tokens. */
export const executorTokenAudience = 'graphcron-executor';
/** Lifetime of one token; the server refuses more than 300 seconds. */
export const executorTokenLifetimeSeconds = 120;

/** Signs a fresh bearer token each time it is called. */
export type TokenSigner = () => Promise<string>;

/**
 * Tokens are single-use (the server records every `jti` and refuses a replay), so every HTTP
 * request and every WebSocket connection attempt must call the signer again.
 */
export function createTokenSigner(executorId: string, privateKey: KeyObject): TokenSigner {
  return async () => {
    const issuedAtSeconds = Math.floor(Date.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'RS256' })
      .setSubject(executorId)
      .setAudience(executorTokenAudience)
      .setIssuedAt(issuedAtSeconds)
      .setExpirationTime(issuedAtSeconds + executorTokenLifetimeSeconds)
      .setJti(randomUUID())
      .sign(privateKey);
  };
}
