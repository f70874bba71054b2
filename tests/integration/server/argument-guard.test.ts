import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';

/**
 * What no argument may hold, wherever it is and however it is sent (variables or inline
 * literals): text PostgreSQL cannot store, Infinity, instants outside 1970..9999.
 */
describe('argument guard', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  const count = async (table: string): Promise<number> => {
    const [row] = await server.app.orm.em
      .fork()
      .getConnection()
      .execute<{ count: string }[]>(`select count(*) from ${table}`);
    return Number(row!.count);
  };
  const createGroup =
    'mutation ($input: CreateExecutorGroupInput!) { createExecutorGroup(input: $input) { id } }';

  it.each([
    ['NUL in a name', 'input.name', { name: 'a\u0000b' }, /NUL character \(U\+0000\)/],
    ['NUL in a description', 'input.description', { name: 'g1', description: '\u0000' }, /NUL/],
    ['a lone surrogate in a name', 'input.name', { name: 'x\ud800y' }, /well-formed Unicode/],
    ['a lone low surrogate in a tag', 'input.tag', { name: 'g2', tag: '\udc00' }, /surrogate/],
  ])('refuses %s sent as a variable (BAD_USER_INPUT on %s)', async (_, field, input, message) => {
    const before = [await count('executor_groups'), await count('audit_entries')];
    const result = await admin.raw(createGroup, { input });
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(result.errors?.[0]?.message).toMatch(message);
    expect([await count('executor_groups'), await count('audit_entries')]).toEqual(before);
  });

  it('refuses NUL written in an inline literal', async () => {
    const result = await admin.raw(
      'mutation { createExecutorGroup(input: { name: "inline\\u0000nul" }) { id } }',
    );
    expect(result.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.name',
    });
  });

  it('names list items and nested fields in the path', async () => {
    const result = await admin.raw(
      `mutation ($input: CreateTaskInput!) { createTask(input: $input) { id } }`,
      {
        input: {
          name: 'guarded',
          command: 'true',
          env: [
            { name: 'A', value: 'fine' },
            { name: 'B', value: 'half \ud83d of an emoji' },
          ],
        },
      },
    );
    expect(result.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.env[1].value',
    });
  });

  it('keeps whole emoji (surrogate pairs) and other unusual text', async () => {
    const name = 'ok \ud83d\ude00 \u202e\u0301\u0007';
    const result = (await admin.raw(
      'mutation ($input: CreateExecutorGroupInput!) { createExecutorGroup(input: $input) { name } }',
      { input: { name } },
    )) as { data?: { createExecutorGroup: { name: string } } };
    expect(result.data?.createExecutorGroup.name).toBe(name.trim());
  });

  it('checks the arguments of queries too', async () => {
    const result = await admin.raw(
      'query ($s: String) { users(filter: { search: $s }) { nodes { id } } }',
      {
        s: 'a\u0000',
      },
    );
    expect(result.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'filter.search',
    });
  });

  it('refuses NUL in the other free-text fields: a profile, an API token name', async () => {
    const profile = await admin.raw(
      'mutation ($input: UpdateProfileInput!) { updateMyProfile(input: $input) { id } }',
      { input: { nickName: 'nick\u0000' } },
    );
    expect(profile.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.nickName',
    });
    const before = await count('api_tokens');
    const apiToken = await admin.raw(
      'mutation { createApiToken(input: { name: "x\\u0000" }) { token } }',
    );
    expect(apiToken.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.name',
    });
    expect(await count('api_tokens')).toBe(before);
  });

  it('refuses instants outside 1970..9999', async () => {
    for (const after of [
      '0000-01-01T00:00:00Z',
      '1969-12-31T23:59:59Z',
      '+010000-01-01T00:00:00Z',
    ]) {
      const result = await admin.raw(
        'query ($after: DateTimeISO) { nextFireTimes(cronExpression: "0 3 * * *", after: $after) }',
        { after },
      );
      const error = result.errors?.[0];
      // +010000 is not RFC 3339 at all: the scalar refuses it first.
      if (after.startsWith('+')) expect(error?.extensions?.code).toBe('BAD_USER_INPUT');
      else {
        expect(error?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
        expect(error?.message).toMatch(/from 1970-01-01 to 9999-12-31/);
      }
    }
  });
});
