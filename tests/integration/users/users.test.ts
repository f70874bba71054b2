import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChangeMyPasswordDocument,
  CreateUserDocument,
  DeleteUserDocument,
  LoginDocument,
  MeDocument,
  UpdateMyProfileDocument,
  UpdateUserDocument,
  UserDocument,
  UsersDocument,
  type CreateUserInput,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { createUser } from '../../helpers/users.js';

describe('users', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  it('creates, reads, updates and deletes a user', async () => {
    const { createUser } = await admin.data(CreateUserDocument, {
      input: {
        username: 'ada',
        password: 'analytical-engine',
        email: 'Ada@Example.com',
        nickName: 'Ada',
      },
    });
    expect(createUser).toMatchObject({
      username: 'ada',
      role: 'USER',
      email: 'ada@example.com',
      isEnabled: true,
    });
    const { user } = await admin.data(UserDocument, { id: createUser.id });
    expect(user.nickName).toBe('Ada');

    const { updateUser } = await admin.data(UpdateUserDocument, {
      id: createUser.id,
      input: { role: 'GUEST', mobile: '+44 20 7946 0958' },
    });
    expect(updateUser).toMatchObject({
      role: 'GUEST',
      mobile: '+44 20 7946 0958',
      nickName: 'Ada',
    });

    expect((await admin.data(DeleteUserDocument, { id: createUser.id })).deleteUser).toBe(
      createUser.id,
    );
    expect(await admin.errorCode(UserDocument, { id: createUser.id })).toBe('NOT_FOUND');
  });

  it('validates input and names the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ username: 'x', password: 'long-enough-1' }, 'input.username'],
      [{ username: 'has space', password: 'long-enough-1' }, 'input.username'],
      [{ username: 'shortpw', password: 'short' }, 'input.password'],
      [{ username: 'bademail', password: 'long-enough-1', email: 'not-an-email' }, 'input.email'],
      [{ username: 'badmobile', password: 'long-enough-1', mobile: 'call me' }, 'input.mobile'],
      [
        { username: 'badavatar', password: 'long-enough-1', avatarUrl: 'ftp://x/y.png' },
        'input.avatarUrl',
      ],
    ];
    for (const [input, field] of cases) {
      const error = await admin.error(CreateUserDocument, {
        input: input as unknown as CreateUserInput,
      });
      expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    const { users } = await admin.data(UsersDocument, { filter: { search: 'bad' } });
    expect(users.totalCount).toBe(0);
  });

  it('refuses a taken username, email or mobile with CONFLICT and changes nothing', async () => {
    const first = await admin.data(CreateUserDocument, {
      input: {
        username: 'grace',
        password: 'cobol-rules-1',
        email: 'grace@example.com',
        mobile: '+1 555 0100',
      },
    });
    const taken = [
      [{ username: 'grace' }, 'username'],
      [{ username: 'grace2', email: 'GRACE@example.com' }, 'email'],
      [{ username: 'grace3', mobile: '+1 555 0100' }, 'mobile'],
    ] as const;
    for (const [input, field] of taken) {
      const error = await admin.error(CreateUserDocument, {
        input: { password: 'long-enough-1', ...input },
      });
      expect(error.extensions).toMatchObject({ code: 'CONFLICT', field });
    }
    const other = await admin.data(CreateUserDocument, {
      input: { username: 'hopper', password: 'long-enough-1' },
    });
    const error = await admin.error(UpdateUserDocument, {
      id: other.createUser.id,
      input: { email: 'grace@example.com', nickName: 'should not stick' },
    });
    expect(error.extensions?.code).toBe('CONFLICT');
    const { user } = await admin.data(UserDocument, { id: other.createUser.id });
    expect(user).toMatchObject({ email: null, nickName: null });
    expect(first.createUser.username).toBe('grace');
  });

  it('answers unknown and malformed ids clearly', async () => {
    expect(await admin.errorCode(UserDocument, { id: '999999' })).toBe('NOT_FOUND');
    const malformed = await admin.error(UserDocument, { id: 'abc' });
    expect(malformed.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
  });

  it('pages through users in a stable order with a total count', async () => {
    for (let i = 0; i < 7; i++) {
      await admin.data(CreateUserDocument, {
        input: { username: `pager-${i}`, password: 'long-enough-1' },
      });
    }
    const seen: string[] = [];
    let after: string | null | undefined;
    let pages = 0;
    do {
      const { users } = await admin.data(UsersDocument, {
        first: 3,
        after,
        filter: { search: 'pager-' },
      });
      expect(users.totalCount).toBe(7);
      seen.push(...users.nodes.map((u) => u.username));
      after = users.pageInfo.hasNextPage ? users.pageInfo.endCursor : undefined;
      pages++;
    } while (after);
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: 7 }, (_, i) => `pager-${i}`));
    expect(await admin.errorCode(UsersDocument, { first: 0 })).toBe('BAD_USER_INPUT');
    expect(await admin.errorCode(UsersDocument, { first: 501 })).toBe('BAD_USER_INPUT');
    expect(await admin.errorCode(UsersDocument, { after: 'not-a-cursor' })).toBe('BAD_USER_INPUT');
  });

  it('keeps at least one enabled admin and refuses deleting yourself', async () => {
    const { me } = await admin.data(MeDocument);
    expect(await admin.errorCode(DeleteUserDocument, { id: me.id })).toBe('CONFLICT');
    expect(await admin.errorCode(UpdateUserDocument, { id: me.id, input: { role: 'USER' } })).toBe(
      'CONFLICT',
    );
    expect(
      await admin.errorCode(UpdateUserDocument, { id: me.id, input: { isEnabled: false } }),
    ).toBe('CONFLICT');
    expect((await admin.data(MeDocument)).me.role).toBe('ADMIN');
  });

  it('a disabled user can neither log in nor use a token issued before', async () => {
    const carol = await createUser(server, 'USER');
    await admin.data(UpdateUserDocument, { id: carol.id, input: { isEnabled: false } });
    expect(await carol.client.errorCode(MeDocument)).toBe('UNAUTHENTICATED');
    const error = await server.anonymous.error(LoginDocument, {
      username: carol.username,
      password: carol.password,
    });
    expect(error.extensions?.code).toBe('UNAUTHENTICATED');
    await admin.data(UpdateUserDocument, { id: carol.id, input: { isEnabled: true } });
    expect((await carol.client.data(MeDocument)).me.username).toBe(carol.username);
  });

  it('lets a user edit their own profile and password, and ends their other sessions', async () => {
    const dave = await createUser(server, 'GUEST');
    const { updateMyProfile } = await dave.client.data(UpdateMyProfileDocument, {
      input: { nickName: 'Dave' },
    });
    expect(updateMyProfile.nickName).toBe('Dave');
    const other = await server.login(dave.username, dave.password);
    const wrong = await dave.client.error(ChangeMyPasswordDocument, {
      currentPassword: 'wrong-one-here',
      newPassword: 'brand-new-password',
    });
    expect(wrong.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'currentPassword' });
    await dave.client.data(ChangeMyPasswordDocument, {
      currentPassword: dave.password,
      newPassword: 'brand-new-password',
    });
    expect((await dave.client.data(MeDocument)).me.username).toBe(dave.username);
    expect(await other.errorCode(MeDocument)).toBe('UNAUTHENTICATED');
    await server.login(dave.username, 'brand-new-password');
  });
});
