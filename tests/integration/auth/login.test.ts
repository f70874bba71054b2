import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LoginDocument,
  LogoutDocument,
  MeDocument,
  RefreshTokenDocument,
} from '../../generated/graphql.js';
import {
  adminPassword,
  adminUsername,
  startTestServer,
  type TestServer,
} from '../../helpers/test-server.js';

describe('login, refresh and logout', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.stop());

  it('logs in the initial admin and returns an RS256 access token and a refresh token', async () => {
    const { login } = await server.anonymous.data(LoginDocument, {
      username: adminUsername,
      password: adminPassword,
    });
    expect(login.user).toMatchObject({ username: adminUsername, role: 'ADMIN' });
    const header = JSON.parse(
      Buffer.from(login.accessToken.split('.')[0]!, 'base64url').toString(),
    );
    expect(header.alg).toBe('RS256');
    const { me } = await server.anonymous.withToken(login.accessToken).data(MeDocument);
    expect(me.username).toBe(adminUsername);
  });

  it('refuses a wrong password without saying whether the user exists', async () => {
    const wrong = await server.anonymous.error(LoginDocument, {
      username: adminUsername,
      password: 'not-it-at-all',
    });
    const unknown = await server.anonymous.error(LoginDocument, {
      username: 'nobody-here',
      password: 'not-it-at-all',
    });
    expect(wrong.extensions?.code).toBe('UNAUTHENTICATED');
    expect(unknown.message).toBe(wrong.message);
  });

  it('refuses a username with NUL as malformed text, the same for every name', async () => {
    const errors = await Promise.all(
      [`${adminUsername}\u0000`, 'nobody-here\u0000'].map((username) =>
        server.anonymous.error(LoginDocument, { username, password: 'not-it-at-all' }),
      ),
    );
    for (const error of errors) {
      expect(error).toMatchObject({
        message: 'username must not contain the NUL character (U+0000).',
        extensions: { code: 'BAD_USER_INPUT', field: 'username' },
      });
    }
  });

  it('rotates refresh tokens: the new one works, the used one does not', async () => {
    const { login } = await server.anonymous.data(LoginDocument, {
      username: adminUsername,
      password: adminPassword,
    });
    const { refreshToken } = await server.anonymous.data(RefreshTokenDocument, {
      refreshToken: login.refreshToken,
    });
    expect(refreshToken.user.username).toBe(adminUsername);
    const { me } = await server.anonymous.withToken(refreshToken.accessToken).data(MeDocument);
    expect(me.username).toBe(adminUsername);
    expect(
      await server.anonymous.errorCode(RefreshTokenDocument, { refreshToken: login.refreshToken }),
    ).toBe('UNAUTHENTICATED');
    expect(
      (
        await server.anonymous.data(RefreshTokenDocument, {
          refreshToken: refreshToken.refreshToken,
        })
      ).refreshToken.accessToken,
    ).toBeTruthy();
  });

  it('logout ends the session: its access token and refresh token stop working at once', async () => {
    const { login } = await server.anonymous.data(LoginDocument, {
      username: adminUsername,
      password: adminPassword,
    });
    const client = server.anonymous.withToken(login.accessToken);
    expect((await client.data(LogoutDocument)).logout).toBe(true);
    expect(await client.errorCode(MeDocument)).toBe('UNAUTHENTICATED');
    expect(
      await server.anonymous.errorCode(RefreshTokenDocument, { refreshToken: login.refreshToken }),
    ).toBe('UNAUTHENTICATED');
  });

  it('asks for a token when there is none', async () => {
    const error = await server.anonymous.error(MeDocument);
    expect(error.extensions?.code).toBe('UNAUTHENTICATED');
    expect(error.message).toMatch(/Authorization: Bearer/);
  });
});
