import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuditEntriesDocument,
  CreateUserDocument,
  MeDocument,
  UpdateUserDocument,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { createUser } from '../../helpers/users.js';

describe('audit trail', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  it('records who changed what, with before and after of the changed fields, secrets redacted', async () => {
    const { me } = await admin.data(MeDocument);
    const { createUser: created } = await admin.data(CreateUserDocument, {
      input: { username: 'audited', password: 'first-password', email: 'a@example.com' },
    });
    await admin.data(UpdateUserDocument, {
      id: created.id,
      input: { email: 'b@example.com', password: 'second-password', nickName: null },
    });

    const { auditEntries } = await admin.data(AuditEntriesDocument, {
      filter: { entityType: 'User', entityId: created.id },
    });
    expect(auditEntries.nodes.map((e) => e.action)).toEqual(['updateUser', 'createUser']);
    const [update, create] = auditEntries.nodes;
    expect(update).toMatchObject({
      actorId: me.id,
      actorName: 'admin',
      requestId: expect.any(String),
    });
    expect(update!.changes).toEqual({
      email: { before: 'a@example.com', after: 'b@example.com' },
      passwordHash: { before: '[REDACTED]', after: '[REDACTED]' },
    });
    expect(create!.changes).toMatchObject({
      username: { before: null, after: 'audited' },
      passwordHash: { before: null, after: '[REDACTED]' },
    });
    expect(JSON.stringify(auditEntries)).not.toMatch(/scrypt|first-password|second-password/);
  });

  it('ties an entry to the request id the client sent', async () => {
    const result = await admin.raw(
      'mutation($input: CreateUserInput!) { createUser(input: $input) { id } }',
      { input: { username: 'traced', password: 'long-enough-1' } },
      { 'x-request-id': 'trace-12345' },
    );
    const { auditEntries } = await admin.data(AuditEntriesDocument, {
      filter: { action: 'createUser' },
    });
    const entry = auditEntries.nodes.find(
      (e) => e.entityId === (result.data as { createUser: { id: string } }).createUser.id,
    );
    expect(entry?.requestId).toBe('trace-12345');
  });

  it('writes nothing for a refused mutation', async () => {
    const before = (await admin.data(AuditEntriesDocument, {})).auditEntries.totalCount;
    await admin.error(CreateUserDocument, {
      input: { username: 'audited', password: 'long-enough-1' },
    });
    await admin.error(CreateUserDocument, { input: { username: 'ok-name', password: 'short' } });
    expect((await admin.data(AuditEntriesDocument, {})).auditEntries.totalCount).toBe(before);
  });

  it('filters by time window and pages newest first', async () => {
    const since = new Date(Date.now() - 60_000).toISOString();
    const page1 = await admin.data(AuditEntriesDocument, { first: 2, filter: { since } });
    const page2 = await admin.data(AuditEntriesDocument, {
      first: 2,
      after: page1.auditEntries.pageInfo.endCursor,
      filter: { since },
    });
    const ids = [...page1.auditEntries.nodes, ...page2.auditEntries.nodes].map((e) => BigInt(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => (a > b ? -1 : 1)));
    expect(new Set(ids).size).toBe(ids.length);
    const future = new Date(Date.now() + 60_000).toISOString();
    expect(
      (await admin.data(AuditEntriesDocument, { filter: { since: future } })).auditEntries
        .totalCount,
    ).toBe(0);
    const backwards = await admin.error(AuditEntriesDocument, {
      filter: { since: future, until: since },
    });
    expect(backwards.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.until' });
  });

  it('is for admins only', async () => {
    for (const role of ['USER', 'GUEST'] as const) {
      const { client } = await createUser(server, role);
      expect(await client.errorCode(AuditEntriesDocument, {})).toBe('FORBIDDEN');
    }
    expect(await server.anonymous.errorCode(AuditEntriesDocument, {})).toBe('UNAUTHENTICATED');
  });
});
