import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoginDocument } from '../../generated/graphql.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { createUser } from '../../helpers/users.js';

describe('failed logins are rate-limited', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      GRAPHCRON_LOGIN_MAX_FAILURES_PER_USER: '3',
      GRAPHCRON_LOGIN_MAX_FAILURES_PER_ADDRESS: '8',
    });
  });
  afterAll(() => server?.stop());

  it('per user: after 3 failures even the right password is refused until the window ends', async () => {
    const user = await createUser(server, 'USER');
    for (let i = 0; i < 3; i++) {
      const error = await server.anonymous.error(LoginDocument, {
        username: user.username,
        password: 'wrong-password',
      });
      expect(error.message).toBe('Wrong username or password.');
    }
    const limited = await server.anonymous.error(LoginDocument, {
      username: user.username,
      password: user.password,
    });
    expect(limited.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      retryAfterSeconds: expect.any(Number),
    });
    expect(limited.message).toMatch(/Too many failed logins/);

    // The window ends: the counter starts again.
    await server.app.orm.em
      .fork()
      .getConnection()
      .execute(`update login_throttles set window_started_at = now() - interval '1 hour'`);
    const { login } = await server.anonymous.data(LoginDocument, {
      username: user.username,
      password: user.password,
    });
    expect(login.user.username).toBe(user.username);
  });

  it('per address: many usernames from one address are refused too', async () => {
    const user = await createUser(server, 'USER');
    for (let i = 0; i < 8; i++) {
      await server.anonymous.error(LoginDocument, {
        username: `nobody-${i}`,
        password: 'wrong-password',
      });
    }
    const limited = await server.anonymous.error(LoginDocument, {
      username: user.username,
      password: user.password,
    });
    expect(limited.message).toMatch(/Too many failed logins/);
  });

  it('answers an impossible username as any wrong login, and still counts it', async () => {
    const connection = server.app.orm.em.fork().getConnection();
    await connection.execute(
      `update login_throttles set window_started_at = now() - interval '1 hour'`,
    );
    for (const username of ['u'.repeat(201), 'u'.repeat(1 << 20)]) {
      for (let i = 0; i < 3; i++) {
        const error = await server.anonymous.error(LoginDocument, {
          username,
          password: 'wrong-password',
        });
        expect(error).toMatchObject({
          message: 'Wrong username or password.',
          extensions: { code: 'UNAUTHENTICATED' },
        });
      }
      const limited = await server.anonymous.error(LoginDocument, {
        username,
        password: 'wrong-password',
      });
      expect(limited.message).toMatch(/Too many failed logins/);
    }
    const keys = await connection.execute<{ key: string; failures: number }[]>(
      `select key, failures from login_throttles where key like 'user:sha256:%' order by key`,
    );
    expect(keys).toEqual([
      { key: expect.stringMatching(/^user:sha256:[0-9a-f]{64}$/), failures: 3 },
      { key: expect.stringMatching(/^user:sha256:[0-9a-f]{64}$/), failures: 3 },
    ]);
  });
});
