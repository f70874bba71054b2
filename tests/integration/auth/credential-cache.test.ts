import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { createLogger } from '../../../src/shared/logger.js';
import {
  ChangeMyPasswordDocument,
  CreateApiTokenDocument,
  DeleteUserDocument,
  LogoutDocument,
  MeDocument,
  RevokeApiTokenDocument,
  UpdateUserDocument,
  UsersDocument,
} from '../../generated/graphql.js';
import { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { createUser, type TestUser } from '../../helpers/users.js';

/**
 * Replicas remember who a credential belongs to (GRAPHCRON_CREDENTIAL_CACHE_SECONDS). Here they
 * remember for a minute, longer than any wait below: a change seen on the other replica was
 * told to it, not looked up again.
 */
describe('credentials remembered by the replicas', () => {
  const env = { GRAPHCRON_CREDENTIAL_CACHE_SECONDS: '60' };
  let server: TestServer;
  let other: RunningApp;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer(env);
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      GRAPHCRON_LOG_LEVEL: 'error',
      GRAPHCRON_CRON_TICKER: '0',
      ...env,
    });
    other = await startApp(config, server.database.url, createLogger(config.logLevel));
    admin = await server.asAdmin();
  });
  afterAll(async () => {
    await other?.stop();
    await server?.stop();
  });

  /** The same caller on the other replica. */
  const onOther = (client: GraphqlClient): GraphqlClient =>
    new GraphqlClient(`http://127.0.0.1:${other.port}/graphql`, client.token);

  /** Calls `me` on both replicas, so that both remember the caller. */
  async function seenByBoth(user: TestUser): Promise<void> {
    expect((await user.client.data(MeDocument)).me.username).toBe(user.username);
    expect((await onOther(user.client).data(MeDocument)).me.username).toBe(user.username);
  }

  /** The code `call` fails with once the change reached its replica (10 s at most). */
  async function refusedOnOther(
    call: () => Promise<{ errors?: readonly { extensions?: { code?: unknown } }[] }>,
  ): Promise<string> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const code = (await call()).errors?.[0]?.extensions?.code;
      if (code) return String(code);
      if (Date.now() > deadline) return 'still allowed';
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('a disabled user is refused at once here and soon on the other replica', async () => {
    const user = await createUser(server, 'USER');
    await seenByBoth(user);
    await admin.data(UpdateUserDocument, { id: user.id, input: { isEnabled: false } });
    expect(await user.client.errorCode(MeDocument)).toBe('UNAUTHENTICATED');
    expect(await refusedOnOther(() => onOther(user.client).execute(MeDocument))).toBe(
      'UNAUTHENTICATED',
    );
  });

  it('a new role applies to the next call on either replica', async () => {
    const user = await createUser(server, 'ADMIN');
    await seenByBoth(user);
    expect((await onOther(user.client).data(UsersDocument, {})).users.totalCount).toBeGreaterThan(
      0,
    );
    await admin.data(UpdateUserDocument, { id: user.id, input: { role: 'GUEST' } });
    expect(await user.client.errorCode(UsersDocument, {})).toBe('FORBIDDEN');
    expect(await refusedOnOther(() => onOther(user.client).execute(UsersDocument, {}))).toBe(
      'FORBIDDEN',
    );
    expect((await onOther(user.client).data(MeDocument)).me.role).toBe('GUEST');
  });

  it('a logout on one replica ends the session on the other', async () => {
    const user = await createUser(server, 'USER');
    await seenByBoth(user);
    await onOther(user.client).data(LogoutDocument);
    expect(await onOther(user.client).errorCode(MeDocument)).toBe('UNAUTHENTICATED');
    expect(await refusedOnOther(() => user.client.execute(MeDocument))).toBe('UNAUTHENTICATED');
  });

  it('a password change ends the other sessions on both replicas', async () => {
    const user = await createUser(server, 'USER');
    const second = await server.login(user.username, user.password);
    await seenByBoth(user);
    expect((await onOther(second).data(MeDocument)).me.username).toBe(user.username);
    await user.client.data(ChangeMyPasswordDocument, {
      currentPassword: user.password,
      newPassword: 'a-new-password-1234',
    });
    expect(await second.errorCode(MeDocument)).toBe('UNAUTHENTICATED');
    expect(await refusedOnOther(() => onOther(second).execute(MeDocument))).toBe('UNAUTHENTICATED');
    expect((await user.client.data(MeDocument)).me.username).toBe(user.username);
  });

  it('a revoked API token and a deleted user are refused on both replicas', async () => {
    const user = await createUser(server, 'USER');
    const { createApiToken } = await user.client.data(CreateApiTokenDocument, {
      input: { name: 'script' },
    });
    const script = user.client.withToken(createApiToken.token);
    await seenByBoth({ ...user, client: script });
    await user.client.data(RevokeApiTokenDocument, { id: createApiToken.apiToken.id });
    expect(await script.errorCode(MeDocument)).toBe('UNAUTHENTICATED');
    expect(await refusedOnOther(() => onOther(script).execute(MeDocument))).toBe('UNAUTHENTICATED');

    await seenByBoth(user);
    await admin.data(DeleteUserDocument, { id: user.id });
    expect(await user.client.errorCode(MeDocument)).toBe('UNAUTHENTICATED');
    expect(await refusedOnOther(() => onOther(user.client).execute(MeDocument))).toBe(
      'UNAUTHENTICATED',
    );
  });
});

describe('GRAPHCRON_CREDENTIAL_CACHE_SECONDS=60, a user deleted by hand', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ GRAPHCRON_CREDENTIAL_CACHE_SECONDS: '60' });
  });
  afterAll(() => server?.stop());

  it('while its credentials are still remembered: refused as unauthenticated, not an internal error', async () => {
    // Deleted by hand, so no replica hears of it: as on a replica the deletion's notification
    // has not reached yet.
    const user = await createUser(server, 'USER');
    expect((await user.client.data(MeDocument)).me.username).toBe(user.username);
    await server.app.orm.em
      .fork()
      .getConnection()
      .execute('delete from users where id = ?', [Number(user.id)]);
    expect(await user.client.errorCode(MeDocument)).toBe('UNAUTHENTICATED');
    expect(
      await user.client.errorCode(ChangeMyPasswordDocument, {
        currentPassword: user.password,
        newPassword: 'a-new-password-1234',
      }),
    ).toBe('UNAUTHENTICATED');
  });
});

describe('GRAPHCRON_CREDENTIAL_CACHE_SECONDS=0', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ GRAPHCRON_CREDENTIAL_CACHE_SECONDS: '0' });
  });
  afterAll(() => server?.stop());

  it('asks the database on every call: a change made by hand applies to the next call', async () => {
    const user = await createUser(server, 'USER');
    expect((await user.client.data(MeDocument)).me.username).toBe(user.username);
    await server.app.orm.em
      .fork()
      .getConnection()
      .execute('update users set is_enabled = false where id = ?', [Number(user.id)]);
    expect(await user.client.errorCode(MeDocument)).toBe('UNAUTHENTICATED');
  });
});
