import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ApiTokensDocument,
  CreateApiTokenDocument,
  LoginDocument,
  MeDocument,
  RevokeApiTokenDocument,
} from '../../generated/graphql.js';
import {
  adminPassword,
  adminUsername,
  startTestServer,
  type TestServer,
} from '../../helpers/test-server.js';
import { createUser } from '../../helpers/users.js';

describe('access tokens and API tokens', () => {
  let server: TestServer;
  let adminId: string;
  let sessionId: string;
  beforeAll(async () => {
    server = await startTestServer();
    const { login } = await server.anonymous.data(LoginDocument, {
      username: adminUsername,
      password: adminPassword,
    });
    adminId = login.user.id;
    sessionId = JSON.parse(
      Buffer.from(login.accessToken.split('.')[1]!, 'base64url').toString(),
    ).sid;
  });
  afterAll(() => server?.stop());

  async function serverKey() {
    const [row] = await server.app.orm.em
      .fork()
      .getConnection()
      .execute<{ private_key_pem: string }[]>('select private_key_pem from signing_keys');
    const privateKey = createPrivateKey(row!.private_key_pem);
    return { privateKey, kid: await calculateJwkThumbprint(await exportJWK(privateKey)) };
  }

  function token(overrides: { exp?: number; aud?: string; sub?: string } = {}) {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ sid: sessionId })
      .setIssuer('graphcron')
      .setAudience(overrides.aud ?? 'graphcron-api')
      .setSubject(overrides.sub ?? adminId)
      .setIssuedAt(now - 60)
      .setExpirationTime(overrides.exp ?? now + 300)
      .setJti(crypto.randomUUID());
  }

  it('accepts a token signed with the server key, as published at /.well-known/jwks.json', async () => {
    const { privateKey, kid } = await serverKey();
    const jwks = (await (
      await fetch(new URL('/.well-known/jwks.json', server.anonymous.url))
    ).json()) as {
      keys: { kid: string; kty: string; alg: string; d?: string }[];
    };
    expect(jwks.keys).toEqual([expect.objectContaining({ kid, kty: 'RSA', alg: 'RS256' })]);
    expect(jwks.keys[0]!.d).toBeUndefined();
    const valid = await token().setProtectedHeader({ alg: 'RS256', kid }).sign(privateKey);
    expect((await server.anonymous.withToken(valid).data(MeDocument)).me.id).toBe(adminId);
  });

  it('refuses expired, forged, wrong-audience and malformed tokens', async () => {
    const { privateKey, kid } = await serverKey();
    const now = Math.floor(Date.now() / 1000);
    const expired = await token({ exp: now - 10 })
      .setProtectedHeader({ alg: 'RS256', kid })
      .sign(privateKey);
    const { privateKey: otherKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const forged = await token().setProtectedHeader({ alg: 'RS256', kid }).sign(otherKey);
    const wrongAudience = await token({ aud: 'someone-else' })
      .setProtectedHeader({ alg: 'RS256', kid })
      .sign(privateKey);
    const valid = await token().setProtectedHeader({ alg: 'RS256', kid }).sign(privateKey);
    const [header, , signature] = valid.split('.');
    const escalated = Buffer.from(
      JSON.stringify({
        sub: '2',
        sid: sessionId,
        aud: 'graphcron-api',
        iss: 'graphcron',
        exp: now + 300,
      }),
    ).toString('base64url');
    const tampered = `${header}.${escalated}.${signature}`;
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${escalated}.`;

    const expiredError = await server.anonymous.withToken(expired).error(MeDocument);
    expect(expiredError.extensions?.code).toBe('UNAUTHENTICATED');
    expect(expiredError.message).toMatch(/expired/);
    for (const bad of [forged, wrongAudience, tampered, unsigned, 'garbage']) {
      expect(await server.anonymous.withToken(bad).errorCode(MeDocument)).toBe('UNAUTHENTICATED');
    }
    const noBearer = await server.anonymous.raw('{ me { id } }', undefined, {
      authorization: 'Basic abc',
    });
    expect(noBearer.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('refuses a token it accepted before once the token expires', async () => {
    const { privateKey, kid } = await serverKey();
    // 2 to 3 s from now: the first call must get through before then, even on a loaded box.
    const expiresAt = Math.floor(Date.now() / 1000) + 3;
    const shortLived = await token({ exp: expiresAt })
      .setProtectedHeader({ alg: 'RS256', kid })
      .sign(privateKey);
    const client = server.anonymous.withToken(shortLived);
    expect((await client.data(MeDocument)).me.id).toBe(adminId);
    await expect
      .poll(async () => (await client.raw('{ me { id } }')).errors?.[0]?.message, {
        timeout: 8_000,
        interval: 250,
      })
      .toMatch(/expired/);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt * 1000);
  });

  it('creates API tokens shown once, stored hashed, usable until revoked', async () => {
    const user = await createUser(server, 'USER');
    const { createApiToken } = await user.client.data(CreateApiTokenDocument, {
      input: { name: 'deploy' },
    });
    expect(createApiToken.token).toMatch(/^gcapi_[\w-]{43}$/);
    expect(createApiToken.token.startsWith(createApiToken.apiToken.prefix)).toBe(true);

    const script = server.anonymous.withToken(createApiToken.token);
    expect((await script.data(MeDocument)).me.username).toBe(user.username);

    const stored = await server.app.orm.em
      .fork()
      .getConnection()
      .execute<{ token_hash: string }[]>('select token_hash from api_tokens where id = ?', [
        createApiToken.apiToken.id,
      ]);
    expect(stored[0]!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(stored)).not.toContain(createApiToken.token);

    const { apiTokens } = await user.client.data(ApiTokensDocument);
    expect(apiTokens).toEqual([
      expect.objectContaining({ name: 'deploy', lastUsedAt: expect.any(String) }),
    ]);

    await user.client.data(RevokeApiTokenDocument, { id: createApiToken.apiToken.id });
    expect(await script.errorCode(MeDocument)).toBe('UNAUTHENTICATED');
    expect(await server.anonymous.withToken(`${createApiToken.token}x`).errorCode(MeDocument)).toBe(
      'UNAUTHENTICATED',
    );
  });

  it("does not let one user revoke another user's API token", async () => {
    const owner = await createUser(server, 'USER');
    const other = await createUser(server, 'USER');
    const { createApiToken } = await owner.client.data(CreateApiTokenDocument, {
      input: { name: 'mine' },
    });
    expect(
      await other.client.errorCode(RevokeApiTokenDocument, { id: createApiToken.apiToken.id }),
    ).toBe('NOT_FOUND');
    expect((await server.anonymous.withToken(createApiToken.token).data(MeDocument)).me.id).toBe(
      owner.id,
    );
  });

  it('validates API token input', async () => {
    const user = await createUser(server, 'GUEST');
    const error = await user.client.error(CreateApiTokenDocument, { input: { name: ' ' } });
    expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.name' });
    const tooShort = await user.client.error(CreateApiTokenDocument, {
      input: { name: 'x', expiresInSeconds: 5 },
    });
    expect(tooShort.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.expiresInSeconds',
    });
  });
});
