import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateExecutorGroupDocument,
  DeleteExecutorBindingDocument,
  DeleteExecutorGroupDocument,
  ExecutorGroupDocument,
  ExecutorGroupsDocument,
  UpdateExecutorGroupDocument,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { createUser, type TestUser } from '../../helpers/users.js';
import {
  auditEntries,
  createBinding,
  createExecutor,
  createGroup,
  uniqueName,
} from '../executors/fixtures.js';

describe('executor groups', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  let owner: TestUser;
  let otherUser: TestUser;
  let guest: TestUser;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
    [owner, otherUser, guest] = await Promise.all([
      createUser(server, 'USER'),
      createUser(server, 'USER'),
      createUser(server, 'GUEST'),
    ]);
  });
  afterAll(() => server?.stop());

  it('lets a USER create a group they own, read it back, update given fields and delete it', async () => {
    const name = uniqueName('payments');
    const created = await createGroup(owner.client, {
      name: `  ${name}  `,
      description: 'card processing',
      tag: 'prod',
    });
    expect(created).toMatchObject({
      name,
      description: 'card processing',
      tag: 'prod',
      ownerId: owner.id,
    });

    const { executorGroup } = await guest.client.data(ExecutorGroupDocument, { id: created.id });
    expect(executorGroup).toMatchObject({ id: created.id, name, ownerId: owner.id, bindings: [] });

    const { updateExecutorGroup } = await owner.client.data(UpdateExecutorGroupDocument, {
      id: created.id,
      input: { tag: 'staging' },
    });
    expect(updateExecutorGroup).toMatchObject({
      name,
      description: 'card processing',
      tag: 'staging',
      ownerId: owner.id,
    });

    const { deleteExecutorGroup } = await owner.client.data(DeleteExecutorGroupDocument, {
      id: created.id,
    });
    expect(deleteExecutorGroup).toBe(created.id);
    expect(await guest.client.errorCode(ExecutorGroupDocument, { id: created.id })).toBe(
      'NOT_FOUND',
    );
  });

  it('writes an audit entry for each change, in the name of the caller', async () => {
    const group = await createGroup(owner.client);
    await owner.client.data(UpdateExecutorGroupDocument, {
      id: group.id,
      input: { description: 'now described' },
    });
    await admin.data(DeleteExecutorGroupDocument, { id: group.id });
    const entries = await auditEntries(server, 'ExecutorGroup', group.id);
    expect(entries.map((entry) => [entry.action, entry.actor_name])).toEqual([
      ['createExecutorGroup', owner.username],
      ['updateExecutorGroup', owner.username],
      ['deleteExecutorGroup', 'admin'],
    ]);
    expect(entries[0]?.changes.ownerId).toEqual({ before: null, after: Number(owner.id) });
    expect(entries[1]?.changes).toEqual({ description: { before: '', after: 'now described' } });
    expect(entries[2]?.changes.name).toEqual({ before: group.name, after: null });
  });

  it('keeps other USERs and GUESTs out, and lets an ADMIN change any group', async () => {
    const group = await createGroup(owner.client);
    const rename = { id: group.id, input: { name: uniqueName('hijacked') } };
    expect(await otherUser.client.errorCode(UpdateExecutorGroupDocument, rename)).toBe('FORBIDDEN');
    expect(await otherUser.client.errorCode(DeleteExecutorGroupDocument, { id: group.id })).toBe(
      'FORBIDDEN',
    );
    expect(await guest.client.errorCode(UpdateExecutorGroupDocument, rename)).toBe('FORBIDDEN');
    expect(await guest.client.errorCode(DeleteExecutorGroupDocument, { id: group.id })).toBe(
      'FORBIDDEN',
    );
    expect(
      await guest.client.errorCode(CreateExecutorGroupDocument, {
        input: { name: uniqueName('guest') },
      }),
    ).toBe('FORBIDDEN');
    const { executorGroup } = await guest.client.data(ExecutorGroupDocument, { id: group.id });
    expect(executorGroup.name).toBe(group.name);

    const byAdmin = await admin.data(UpdateExecutorGroupDocument, {
      id: group.id,
      input: { name: uniqueName('renamed-by-admin') },
    });
    // The owner stays the owner when an admin edits the group.
    expect(byAdmin.updateExecutorGroup.ownerId).toBe(owner.id);
    const adminGroup = await createGroup(admin);
    expect(
      await owner.client.errorCode(UpdateExecutorGroupDocument, {
        id: adminGroup.id,
        input: { tag: 'mine' },
      }),
    ).toBe('FORBIDDEN');
  });

  it('validates names, descriptions and tags, and changes nothing on refusal', async () => {
    const group = await createGroup(owner.client, { description: 'original' });
    const other = await createGroup(owner.client);
    const cases = [
      [{ name: '   ' }, 'BAD_USER_INPUT', 'input.name'],
      [{ name: 'n'.repeat(101) }, 'BAD_USER_INPUT', 'input.name'],
      [{ description: 'd'.repeat(2001) }, 'BAD_USER_INPUT', 'input.description'],
      [{ tag: 't'.repeat(101) }, 'BAD_USER_INPUT', 'input.tag'],
      [{ name: other.name, description: 'changed' }, 'CONFLICT', 'input.name'],
    ] as const;
    for (const [input, code, field] of cases) {
      const error = await owner.client.error(UpdateExecutorGroupDocument, { id: group.id, input });
      expect(error.extensions, JSON.stringify(input)).toMatchObject({ code, field });
    }
    const duplicate = await owner.client.error(CreateExecutorGroupDocument, {
      input: { name: group.name },
    });
    expect(duplicate.extensions).toMatchObject({ code: 'CONFLICT', field: 'input.name' });
    const { executorGroup } = await owner.client.data(ExecutorGroupDocument, { id: group.id });
    expect(executorGroup).toMatchObject({ name: group.name, description: 'original', tag: '' });
    expect((await auditEntries(server, 'ExecutorGroup', group.id)).length).toBe(1);
    // 100 characters exactly is fine.
    const longest = 'x'.repeat(100);
    expect((await createGroup(owner.client, { name: longest })).name).toBe(longest);
  });

  it('reports unknown and malformed ids', async () => {
    expect(await guest.client.errorCode(ExecutorGroupDocument, { id: '999999' })).toBe('NOT_FOUND');
    const malformed = await admin.error(UpdateExecutorGroupDocument, { id: 'abc', input: {} });
    expect(malformed.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
    expect(await admin.errorCode(DeleteExecutorGroupDocument, { id: '999999' })).toBe('NOT_FOUND');
  });

  it('lists groups with their bindings, filtered by search and tag', async () => {
    const tag = uniqueName('listed');
    const billing = await createGroup(owner.client, { tag, name: uniqueName('Billing') });
    const search = await createGroup(owner.client, { tag, description: 'full-text search' });
    await createGroup(owner.client, { name: uniqueName('billing-untagged') });
    const executor = await createExecutor(admin);
    const binding = await createBinding(owner.client, {
      groupId: billing.id,
      executorId: executor.id,
    });

    const { executorGroups } = await guest.client.data(ExecutorGroupsDocument, {
      filter: { tag },
    });
    expect(executorGroups.totalCount).toBe(2);
    expect(executorGroups.nodes.map((node) => [node.id, node.bindings.map((b) => b.id)])).toEqual([
      [billing.id, [binding.id]],
      [search.id, []],
    ]);
    const bySearch = await guest.client.data(ExecutorGroupsDocument, {
      filter: { tag, search: 'BILLING' },
    });
    expect(bySearch.executorGroups.nodes.map((node) => node.id)).toEqual([billing.id]);
    const byDescription = await guest.client.data(ExecutorGroupsDocument, {
      filter: { search: 'full-text' },
    });
    expect(byDescription.executorGroups.nodes.map((node) => node.id)).toEqual([search.id]);
    await owner.client.data(DeleteExecutorBindingDocument, { id: binding.id });
  });

  it('refuses to delete a group that has bindings, saying how many and what to do', async () => {
    const group = await createGroup(owner.client);
    const [first, second] = await Promise.all([createExecutor(admin), createExecutor(admin)]);
    const bindings = [
      await createBinding(owner.client, { groupId: group.id, executorId: first!.id }),
      await createBinding(owner.client, { groupId: group.id, executorId: second!.id }),
    ];
    for (const client of [owner.client, admin]) {
      const error = await client.error(DeleteExecutorGroupDocument, { id: group.id });
      expect(error.extensions?.code).toBe('CONFLICT');
      expect(error.message).toContain('2 binding(s)');
      expect(error.message).toContain('deleteExecutorBinding');
    }
    const { executorGroup } = await owner.client.data(ExecutorGroupDocument, { id: group.id });
    expect(executorGroup.bindings.map((b) => b.id)).toEqual(bindings.map((b) => b.id));

    for (const binding of bindings) {
      await owner.client.data(DeleteExecutorBindingDocument, { id: binding.id });
    }
    await owner.client.data(DeleteExecutorGroupDocument, { id: group.id });
    expect(await owner.client.errorCode(ExecutorGroupDocument, { id: group.id })).toBe('NOT_FOUND');
  });
});
