import { randomUUID } from 'node:crypto';
import { errors, jwtVerify, SignJWT, type JWTHeaderParameters } from 'jose';
import { UnauthenticatedError } from '../shared/app-error.js';
import type { KeyRing } from './signing-keys.js';
import { VerifiedTokens } from './verified-tokens.js';

export const tokenIssuer = 'graphcron';
export const userAudience = 'graphcron-api';

export interface AccessTokenClaims {
  userId: number;
  sessionId: string;
}

export async function signAccessToken(
  keys: KeyRing,
  claims: AccessTokenClaims,
  ttlSeconds: number,
): Promise<{ token: string; expiresAt: Date }> {
  const issuedAt = Math.floor(Date.now() / 1000);
  const expiresAt = issuedAt + ttlSeconds;
  const token = await new SignJWT({ sid: claims.sessionId })
    .setProtectedHeader({ alg: 'RS256', kid: keys.kid, typ: 'JWT' })
    .setIssuer(tokenIssuer)
    .setAudience(userAudience)
    .setSubject(String(claims.userId))
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt)
    .setJti(randomUUID())
    .sign(keys.privateKey);
  return { token, expiresAt: new Date(expiresAt * 1000) };
}

/** Tokens verified against each key ring (one per server). */
const verifiedTokens = new WeakMap<KeyRing, VerifiedTokens<AccessTokenClaims>>();

export async function verifyAccessToken(keys: KeyRing, token: string): Promise<AccessTokenClaims> {
  let verified = verifiedTokens.get(keys);
  if (!verified) {
    verified = new VerifiedTokens();
    verifiedTokens.set(keys, verified);
  }
  const known = verified.get(token);
  if (known) return known;
  try {
    const { payload } = await jwtVerify(
      token,
      (header: JWTHeaderParameters) => {
        const key = header.kid ? keys.publicKeys.get(header.kid) : undefined;
        if (!key) throw new errors.JWKSNoMatchingKey();
        return key;
      },
      { issuer: tokenIssuer, audience: userAudience, algorithms: ['RS256'] },
    );
    const userId = Number(payload.sub);
    if (!Number.isInteger(userId) || typeof payload.sid !== 'string') {
      throw new UnauthenticatedError('The access token is malformed; log in again.');
    }
    const claims = { userId, sessionId: payload.sid };
    // Our tokens always expire; one without `exp` is verified every time.
    if (payload.exp !== undefined) verified.remember(token, claims, payload.exp * 1000);
    return claims;
  } catch (error) {
    if (error instanceof UnauthenticatedError) throw error;
    if (error instanceof errors.JWTExpired) {
      throw new UnauthenticatedError('The access token has expired; refresh it or log in again.');
    }
    throw new UnauthenticatedError('The access token is not valid; log in again.');
  }
}
