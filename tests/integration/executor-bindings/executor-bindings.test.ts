import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateExecutorBindingDocument,
  DeleteExecutorBindingDocument,
  ExecutorBindingDocument,
  ExecutorBindingsDocument,
  UpdateExecutorBindingDocument,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { createUser, type TestUser } from '../../helpers/users.js';
import {
  auditEntries,
  createBinding,
  createExecutor,
  createGroup,
  insertTaskUsing,
  sql,
  uniqueName,
} from '../executors/fixtures.js';

describe('executor bindings', () => {
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

  it('lets a USER bind an executor into their own group, then read, update and delete it', async () => {
    const group = await createGroup(owner.client);
    const executor = await createExecutor(admin);
    const created = await createBinding(owner.client, {
      name: 'primary',
      groupId: group.id,
      executorId: executor.id,
    });
    expect(created).toMatchObject({
      name: 'primary',
      weight: 1,
      group: { id: group.id, name: group.name },
      executor: { id: executor.id, name: executor.name },
    });

    const { executorBinding } = await guest.client.data(ExecutorBindingDocument, {
      id: created.id,
    });
    expect(executorBinding).toMatchObject({ id: created.id, group: { id: group.id } });

    const { updateExecutorBinding } = await owner.client.data(UpdateExecutorBindingDocument, {
      id: created.id,
      input: { weight: 25 },
    });
    expect(updateExecutorBinding).toMatchObject({
      name: 'primary',
      weight: 25,
      executor: { id: executor.id },
    });

    const { deleteExecutorBinding } = await owner.client.data(DeleteExecutorBindingDocument, {
      id: created.id,
    });
    expect(deleteExecutorBinding).toBe(created.id);
    expect(await guest.client.errorCode(ExecutorBindingDocument, { id: created.id })).toBe(
      'NOT_FOUND',
    );
    expect(
      (await auditEntries(server, 'ExecutorBinding', created.id)).map((e) => e.action),
    ).toEqual(['createExecutorBinding', 'updateExecutorBinding', 'deleteExecutorBinding']);
  });

  it('keeps USERs out of groups they do not own, GUESTs out of every write', async () => {
    const group = await createGroup(owner.client);
    const executor = await createExecutor(admin);
    const input = { name: uniqueName('binding'), groupId: group.id, executorId: executor.id };
    expect(await otherUser.client.errorCode(CreateExecutorBindingDocument, { input })).toBe(
      'FORBIDDEN',
    );
    expect(await guest.client.errorCode(CreateExecutorBindingDocument, { input })).toBe(
      'FORBIDDEN',
    );
    const binding = await createBinding(owner.client, input);
    for (const outsider of [otherUser.client, guest.client]) {
      expect(
        await outsider.errorCode(UpdateExecutorBindingDocument, {
          id: binding.id,
          input: { weight: 99 },
        }),
      ).toBe('FORBIDDEN');
      expect(await outsider.errorCode(DeleteExecutorBindingDocument, { id: binding.id })).toBe(
        'FORBIDDEN',
      );
    }
    const { executorBinding } = await owner.client.data(ExecutorBindingDocument, {
      id: binding.id,
    });
    expect(executorBinding.weight).toBe(1);

    // An admin may bind into anyone's group.
    const second = await createExecutor(admin);
    const byAdmin = await createBinding(admin, { groupId: group.id, executorId: second.id });
    expect(byAdmin.group.id).toBe(group.id);
  });

  it('refuses weights outside 1..10000 and changes nothing on refusal', async () => {
    const group = await createGroup(owner.client);
    const executor = await createExecutor(admin);
    for (const weight of [0, -3, 10_001]) {
      const error = await owner.client.error(CreateExecutorBindingDocument, {
        input: { name: 'heavy', groupId: group.id, executorId: executor.id, weight },
      });
      expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.weight' });
    }
    const binding = await createBinding(owner.client, {
      groupId: group.id,
      executorId: executor.id,
      weight: 10_000,
    });
    const error = await owner.client.error(UpdateExecutorBindingDocument, {
      id: binding.id,
      input: { name: 'renamed', weight: 0 },
    });
    expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.weight' });
    const { executorBinding } = await owner.client.data(ExecutorBindingDocument, {
      id: binding.id,
    });
    expect(executorBinding).toMatchObject({ name: binding.name, weight: 10_000 });
    expect((await auditEntries(server, 'ExecutorBinding', binding.id)).length).toBe(1);
  });

  it('reports unknown groups and executors as NOT_FOUND, naming the input field', async () => {
    const group = await createGroup(owner.client);
    const executor = await createExecutor(admin);
    const unknownGroup = await owner.client.error(CreateExecutorBindingDocument, {
      input: { name: 'lost', groupId: '999999', executorId: executor.id },
    });
    expect(unknownGroup.extensions).toMatchObject({ code: 'NOT_FOUND', field: 'input.groupId' });
    const unknownExecutor = await owner.client.error(CreateExecutorBindingDocument, {
      input: { name: 'lost', groupId: group.id, executorId: '999999' },
    });
    expect(unknownExecutor.extensions).toMatchObject({
      code: 'NOT_FOUND',
      field: 'input.executorId',
    });
    const binding = await createBinding(owner.client, {
      groupId: group.id,
      executorId: executor.id,
    });
    const moveNowhere = await owner.client.error(UpdateExecutorBindingDocument, {
      id: binding.id,
      input: { executorId: '999999' },
    });
    expect(moveNowhere.extensions).toMatchObject({ code: 'NOT_FOUND', field: 'input.executorId' });
    expect(
      await owner.client.errorCode(UpdateExecutorBindingDocument, {
        id: '999999',
        input: { weight: 2 },
      }),
    ).toBe('NOT_FOUND');
  });

  it('refuses to bind the same executor into the same group twice', async () => {
    const group = await createGroup(owner.client);
    const [first, second] = [await createExecutor(admin), await createExecutor(admin)];
    const existing = await createBinding(owner.client, {
      groupId: group.id,
      executorId: first.id,
    });
    const twice = await owner.client.error(CreateExecutorBindingDocument, {
      input: { name: 'again', groupId: group.id, executorId: first.id },
    });
    expect(twice.extensions).toMatchObject({ code: 'CONFLICT', field: 'input.executorId' });
    expect(twice.message).toContain(`(id ${existing.id})`);

    // Moving another binding onto an executor the group already has is the same conflict.
    const other = await createBinding(owner.client, { groupId: group.id, executorId: second.id });
    const move = await owner.client.error(UpdateExecutorBindingDocument, {
      id: other.id,
      input: { executorId: first.id },
    });
    expect(move.extensions).toMatchObject({ code: 'CONFLICT', field: 'input.executorId' });
    const { executorBindings } = await guest.client.data(ExecutorBindingsDocument, {
      filter: { groupId: group.id },
    });
    expect(executorBindings.nodes.map((b) => [b.id, b.executor.id])).toEqual([
      [existing.id, first.id],
      [other.id, second.id],
    ]);
  });

  it('moves every task on a binding when the binding moves to another executor', async () => {
    const group = await createGroup(owner.client);
    const [from, to] = [await createExecutor(admin), await createExecutor(admin)];
    const binding = await createBinding(owner.client, { groupId: group.id, executorId: from.id });
    const taskId = await insertTaskUsing(server, binding.id, uniqueName('nightly'));

    const { updateExecutorBinding } = await owner.client.data(UpdateExecutorBindingDocument, {
      id: binding.id,
      input: { executorId: to.id },
    });
    expect(updateExecutorBinding.executor.id).toBe(to.id);
    const runsOn = await sql<{ executor_id: number }>(
      server,
      `select b.executor_id from task_bindings tb join executor_bindings b on b.id = tb.binding_id
        where tb.task_id = ?`,
      [taskId],
    );
    expect(runsOn).toEqual([{ executor_id: Number(to.id) }]);
    const [update] = (await auditEntries(server, 'ExecutorBinding', binding.id)).slice(-1);
    expect(update?.changes).toEqual({
      executorId: { before: Number(from.id), after: Number(to.id) },
    });
    const byExecutor = await guest.client.data(ExecutorBindingsDocument, {
      filter: { executorId: from.id },
    });
    expect(byExecutor.executorBindings.totalCount).toBe(0);
  });

  it('refuses to delete a binding a task uses, naming the task', async () => {
    const group = await createGroup(owner.client);
    const executor = await createExecutor(admin);
    const binding = await createBinding(owner.client, {
      groupId: group.id,
      executorId: executor.id,
    });
    const taskName = uniqueName('hourly-report');
    const taskId = await insertTaskUsing(server, binding.id, taskName);

    for (const client of [owner.client, admin]) {
      const error = await client.error(DeleteExecutorBindingDocument, { id: binding.id });
      expect(error.extensions?.code).toBe('CONFLICT');
      expect(error.message).toContain(`"${taskName}" (id ${taskId})`);
      expect(error.message).toContain('1 task(s)');
    }
    const { executorBinding } = await owner.client.data(ExecutorBindingDocument, {
      id: binding.id,
    });
    expect(executorBinding.id).toBe(binding.id);
    const still = await sql(server, 'select 1 from task_bindings where binding_id = ?', [
      Number(binding.id),
    ]);
    expect(still).toHaveLength(1);

    await sql(server, 'delete from tasks where id = ?', [taskId]);
    await owner.client.data(DeleteExecutorBindingDocument, { id: binding.id });
  });
});
