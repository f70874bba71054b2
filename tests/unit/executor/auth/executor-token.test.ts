import { createPublicKey } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { createTokenSigner } from '../../../../executor/auth/executor-token.js';
import { generateKeyPair } from '../../../../executor/auth/key-pair.js';

describe('executor tokens', () => {
  const { keyPair } = generateKeyPair();
  const signToken = createTokenSigner('17', keyPair.privateKey);

  it('are RS256, for the executor audience, short-lived, and verify with the public key', async () => {
    const token = await signToken();
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'RS256' });
    const { payload } = await jwtVerify(token, createPublicKey(keyPair.publicKeyPem), {
      algorithms: ['RS256'],
      audience: 'graphcron-executor',
      subject: '17',
      requiredClaims: ['exp', 'iat', 'jti'],
    });
    expect(payload.exp! - payload.iat!).toBeGreaterThan(0);
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(300);
    expect(Math.abs(payload.iat! - Date.now() / 1000)).toBeLessThan(5);
  });

  it('carry a new jti each time (the server refuses a replay)', async () => {
    const tokens = await Promise.all(Array.from({ length: 20 }, () => signToken()));
    const jtis = await Promise.all(
      tokens.map(
        async (token) =>
          (await jwtVerify(token, createPublicKey(keyPair.publicKeyPem))).payload.jti,
      ),
    );
    expect(new Set(jtis).size).toBe(20);
  });

  it('do not verify with another key', async () => {
    const other = generateKeyPair().keyPair;
    await expect(
      jwtVerify(await signToken(), createPublicKey(other.publicKeyPem)),
    ).rejects.toThrow();
  });
});
