import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateExecutorDocument,
  DeleteExecutorDocument,
  DeleteExecutorBindingDocument,
  ExecutorDocument,
  ExecutorsDocument,
  UpdateExecutorDocument,
  type ExecutorsQuery,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { createUser, type TestUser } from '../../helpers/users.js';
import {
  auditEntries,
  createBinding,
  createExecutor,
  createGroup,
  executorInput,
  sql,
  uniqueName,
} from './fixtures.js';

describe('executors', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  let user: TestUser;
  let guest: TestUser;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
    [user, guest] = await Promise.all([createUser(server, 'USER'), createUser(server, 'GUEST')]);
  });
  afterAll(() => server?.stop());

  it('creates with defaults, reads, updates only the given fields, and deletes', async () => {
    const input = executorInput({ description: 'rack 4', tag: 'batch' });
    const created = await createExecutor(admin, input);
    expect(created).toMatchObject({
      name: input.name,
      host: '10.0.0.5:9090',
      machineId: input.machineId,
      description: 'rack 4',
      tag: 'batch',
      capacity: 4,
      isEnabled: true,
      isOnline: false,
      lastHeartbeatAt: null,
      publicKey: null,
    });

    const { executor } = await guest.client.data(ExecutorDocument, { id: created.id });
    expect(executor).toMatchObject({ id: created.id, name: input.name, bindings: [] });

    const { updateExecutor } = await admin.data(UpdateExecutorDocument, {
      id: created.id,
      input: { host: 'executor-1.internal:8080', capacity: 16, isEnabled: false },
    });
    expect(updateExecutor).toMatchObject({
      name: input.name,
      description: 'rack 4',
      tag: 'batch',
      machineId: input.machineId,
      host: 'executor-1.internal:8080',
      capacity: 16,
      isEnabled: false,
    });

    expect((await admin.data(DeleteExecutorDocument, { id: created.id })).deleteExecutor).toBe(
      created.id,
    );
    expect(await admin.errorCode(ExecutorDocument, { id: created.id })).toBe('NOT_FOUND');
    expect(await admin.errorCode(DeleteExecutorDocument, { id: created.id })).toBe('NOT_FOUND');
  });

  it('writes an audit entry for each change, with the fields before and after', async () => {
    const created = await createExecutor(admin);
    await admin.data(UpdateExecutorDocument, { id: created.id, input: { capacity: 9 } });
    await admin.data(DeleteExecutorDocument, { id: created.id });
    const entries = await auditEntries(server, 'Executor', created.id);
    expect(entries.map((entry) => entry.action)).toEqual([
      'createExecutor',
      'updateExecutor',
      'deleteExecutor',
    ]);
    expect(entries[0]?.actor_name).toBe('admin');
    expect(entries[0]?.changes.name).toEqual({ before: null, after: created.name });
    expect(entries[1]?.changes).toEqual({ capacity: { before: 4, after: 9 } });
    expect(entries[2]?.changes.machineId).toEqual({ before: created.machineId, after: null });
  });

  it.each([
    'executor-1.internal:9090',
    'localhost:1',
    'a-b.c-d.example:65535',
    '192.168.1.20:22',
    '[::1]:9090',
    '[2001:db8::5]:443',
  ])('accepts the host %s', async (host) => {
    expect((await createExecutor(admin, { host })).host).toBe(host);
  });

  it.each([
    ['no port', 'executor-1.internal'],
    ['an empty port', 'executor-1.internal:'],
    ['port 0', 'executor-1.internal:0'],
    ['port 65536', 'executor-1.internal:65536'],
    ['a port that is not a number', 'executor-1.internal:http'],
    ['no host', ':9090'],
    ['a space inside', 'executor 1:9090'],
    ['a trailing space', 'executor-1:9090 '],
    ['a URL', 'http://executor-1:9090'],
    ['an underscore', 'executor_1:9090'],
    ['a label starting with a hyphen', '-executor.internal:9090'],
    ['an empty label', 'executor..internal:9090'],
    ['a label of 64 characters', `${'a'.repeat(64)}.internal:9090`],
    ['an IPv4 octet above 255', '10.0.0.256:9090'],
    ['an IPv4 address with three parts', '10.0.5:9090'],
    ['an IPv6 address without brackets', '2001:db8::5:9090'],
    ['brackets around something else', '[executor-1]:9090'],
  ])('refuses a host with %s', async (_why, host) => {
    const error = await admin.error(CreateExecutorDocument, { input: executorInput({ host }) });
    expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.host' });
    expect(error.message).toContain('host:port');
  });

  it('refuses machine ids outside 0..1023, and names the executor that holds a taken one', async () => {
    for (const machineId of [-1, 1024]) {
      const error = await admin.error(CreateExecutorDocument, {
        input: executorInput({ machineId }),
      });
      expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.machineId' });
    }
    const holder = await createExecutor(admin, { machineId: 700 });
    const taken = await admin.error(CreateExecutorDocument, {
      input: executorInput({ machineId: 700 }),
    });
    expect(taken.extensions).toMatchObject({ code: 'CONFLICT', field: 'input.machineId' });
    expect(taken.message).toContain(`"${holder.name}"`);

    const other = await createExecutor(admin);
    const moved = await admin.error(UpdateExecutorDocument, {
      id: other.id,
      input: { machineId: 700, name: uniqueName('renamed') },
    });
    expect(moved.extensions).toMatchObject({ code: 'CONFLICT', field: 'input.machineId' });
    // The rejected update changed nothing, not even the name given with it.
    const { executor } = await admin.data(ExecutorDocument, { id: other.id });
    expect(executor).toMatchObject({ name: other.name, machineId: other.machineId });
    // Keeping one's own machine id is not a conflict.
    await admin.data(UpdateExecutorDocument, {
      id: holder.id,
      input: { machineId: 700 },
    });
  });

  it('refuses a duplicate name, an empty name and a capacity outside 1..1000', async () => {
    const first = await createExecutor(admin);
    const duplicate = await admin.error(CreateExecutorDocument, {
      input: executorInput({ name: ` ${first.name} ` }),
    });
    expect(duplicate.extensions).toMatchObject({ code: 'CONFLICT', field: 'input.name' });
    const empty = await admin.error(CreateExecutorDocument, {
      input: executorInput({ name: ' ' }),
    });
    expect(empty.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.name' });
    for (const capacity of [0, 1001]) {
      const error = await admin.error(UpdateExecutorDocument, {
        id: first.id,
        input: { capacity },
      });
      expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.capacity' });
    }
    const { executor } = await admin.data(ExecutorDocument, { id: first.id });
    expect(executor.capacity).toBe(4);
  });

  it('lets any logged-in user read, but only admins write', async () => {
    const created = await createExecutor(admin);
    for (const reader of [user.client, guest.client]) {
      const { executors } = await reader.data(ExecutorsDocument, { first: 500 });
      expect(executors.nodes.map((node) => node.id)).toContain(created.id);
    }
    for (const writer of [user.client, guest.client]) {
      expect(await writer.errorCode(CreateExecutorDocument, { input: executorInput() })).toBe(
        'FORBIDDEN',
      );
      expect(
        await writer.errorCode(UpdateExecutorDocument, { id: created.id, input: { capacity: 1 } }),
      ).toBe('FORBIDDEN');
      expect(await writer.errorCode(DeleteExecutorDocument, { id: created.id })).toBe('FORBIDDEN');
    }
    expect(await server.anonymous.errorCode(ExecutorDocument, { id: created.id })).toBe(
      'UNAUTHENTICATED',
    );
    const { executor } = await admin.data(ExecutorDocument, { id: created.id });
    expect(executor.capacity).toBe(4);
  });

  it('pages through executors by id with a total count', async () => {
    const tag = uniqueName('paged');
    const created: string[] = [];
    for (let i = 0; i < 5; i++) created.push((await createExecutor(admin, { tag })).id);
    const seen: string[] = [];
    let after: string | null = null;
    for (const expected of [2, 2, 1]) {
      const { executors }: ExecutorsQuery = await admin.data(ExecutorsDocument, {
        first: 2,
        after,
        filter: { tag },
      });
      expect(executors.totalCount).toBe(5);
      expect(executors.nodes).toHaveLength(expected);
      seen.push(...executors.nodes.map((node) => node.id));
      expect(executors.pageInfo.hasNextPage).toBe(seen.length < 5);
      after = executors.pageInfo.endCursor;
    }
    expect(seen).toEqual(created);
    expect(seen.map(Number)).toEqual([...seen.map(Number)].sort((a, b) => a - b));
  });

  it('filters by search, isEnabled, isOnline and group', async () => {
    const tag = uniqueName('filtered');
    const online = await createExecutor(admin, { tag, name: uniqueName('gpu-box') });
    const disabled = await createExecutor(admin, { tag, isEnabled: false });
    // As a heartbeat would: online, heard from just now (else the reaper turns it offline).
    await sql(
      server,
      'update executors set is_online = true, last_heartbeat_at = now() where id = ?',
      [Number(online.id)],
    );
    const ids = async (filter: Record<string, unknown>) =>
      (await admin.data(ExecutorsDocument, { filter: { tag, ...filter } })).executors.nodes.map(
        (node) => node.id,
      );
    expect(await ids({ search: 'GPU-BOX' })).toEqual([online.id]);
    expect(await ids({ isEnabled: false })).toEqual([disabled.id]);
    expect(await ids({ isOnline: true })).toEqual([online.id]);
    const group = await createGroup(admin);
    expect(await ids({ groupId: group.id })).toEqual([]);
    const binding = await createBinding(admin, { groupId: group.id, executorId: disabled.id });
    expect(await ids({ groupId: group.id })).toEqual([disabled.id]);
    await admin.data(DeleteExecutorBindingDocument, { id: binding.id });
  });

  it('refuses to delete an executor that still has bindings, and says what to do', async () => {
    const executor = await createExecutor(admin);
    const group = await createGroup(admin);
    const binding = await createBinding(admin, { groupId: group.id, executorId: executor.id });
    const error = await admin.error(DeleteExecutorDocument, { id: executor.id });
    expect(error.extensions?.code).toBe('CONFLICT');
    expect(error.message).toContain(`"${group.name}"`);
    expect(error.message).toContain('updateExecutorBinding');
    const read = await admin.data(ExecutorDocument, { id: executor.id });
    expect(read.executor.bindings.map((b) => b.id)).toEqual([binding.id]);
    expect((await auditEntries(server, 'Executor', executor.id)).map((e) => e.action)).toEqual([
      'createExecutor',
    ]);
    await admin.data(DeleteExecutorBindingDocument, { id: binding.id });
    await admin.data(DeleteExecutorDocument, { id: executor.id });
  });
});
