import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateTaskDocument,
  DeleteTaskDocument,
  MeDocument,
  NextFireTimesDocument,
  TaskDocument,
  TasksDocument,
  UpdateTaskDocument,
  type TaskFilter,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { auditEntries, insertBinding, shellTask, sql } from './fixtures.js';

describe('tasks: create, read, update, delete', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  let bindingA: string;
  let bindingB: string;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
    bindingA = await insertBinding(server, 'crud-a');
    bindingB = await insertBinding(server, 'crud-b');
  });
  afterAll(() => server?.stop());

  it('creates a task with defaults, the caller as owner and the next fire time computed', async () => {
    const before = Date.now();
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: shellTask({ cronExpression: '*/5 * * * *', bindingIds: [bindingB, bindingA] }),
    });
    expect(createTask).toMatchObject({
      name: 'nightly backup',
      description: '',
      kind: 'SHELL',
      timeZone: 'UTC',
      frequency: 'REPEAT',
      frequencyTimes: null,
      timeoutSeconds: 3600,
      retryTimes: 0,
      retryIntervalSeconds: 10,
      maxParallelRuns: 1,
      tag: '',
      routingStrategy: 'ROUND_ROBIN',
      isEnabled: true,
      ownerId: (await admin.data(MeDocument)).me.id,
    });
    expect(createTask.bindings.map((binding) => binding.id)).toEqual([bindingA, bindingB]);
    const nextFireAt = new Date(createTask.nextFireAt!);
    expect(nextFireAt.getTime()).toBeGreaterThan(before - 1000);
    expect(nextFireAt.getTime()).toBeLessThanOrEqual(before + 5 * 60_000 + 1000);
    expect(nextFireAt.getUTCMinutes() % 5).toBe(0);
    expect(nextFireAt.getUTCSeconds()).toBe(0);

    const { task } = await admin.data(TaskDocument, { id: createTask.id });
    expect(task).toEqual(createTask);
  });

  it('a task without a cron expression or disabled has no next fire time', async () => {
    const manual = await admin.data(CreateTaskDocument, { input: shellTask() });
    expect(manual.createTask.nextFireAt).toBeNull();
    const disabled = await admin.data(CreateTaskDocument, {
      input: shellTask({ cronExpression: '0 3 * * *', isEnabled: false }),
    });
    expect(disabled.createTask.nextFireAt).toBeNull();
    const { updateTask } = await admin.data(UpdateTaskDocument, {
      id: disabled.createTask.id,
      input: { isEnabled: true, timeZone: 'Asia/Tokyo' },
    });
    // 03:00 in Tokyo is 18:00 UTC.
    expect(new Date(updateTask.nextFireAt!).getUTCHours()).toBe(18);
  });

  it('updates only the given fields, replaces the bindings and clears the schedule with null', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: shellTask({
        name: 'report',
        tag: 'reports',
        cronExpression: '0 6 * * *',
        frequency: 'TIMES',
        frequencyTimes: 3,
        bindingIds: [bindingA],
      }),
    });
    const { updateTask } = await admin.data(UpdateTaskDocument, {
      id: createTask.id,
      input: { description: 'weekly numbers', bindingIds: [bindingB], retryTimes: 2 },
    });
    expect(updateTask).toMatchObject({
      name: 'report',
      tag: 'reports',
      description: 'weekly numbers',
      retryTimes: 2,
      frequency: 'TIMES',
      frequencyTimes: 3,
      nextFireAt: createTask.nextFireAt,
    });
    expect(updateTask.bindings.map((binding) => binding.id)).toEqual([bindingB]);

    const cleared = await admin.data(UpdateTaskDocument, {
      id: createTask.id,
      input: { cronExpression: null, frequency: 'REPEAT', bindingIds: [] },
    });
    expect(cleared.updateTask).toMatchObject({
      cronExpression: null,
      nextFireAt: null,
      frequency: 'REPEAT',
      frequencyTimes: null,
      bindings: [],
    });
  });

  it('lists tasks in id order with filters, pages and totals', async () => {
    const tag = 'list-filter';
    const ids: string[] = [];
    for (const [index, name] of ['alpha job', 'beta job', 'gamma job'].entries()) {
      const { createTask } = await admin.data(CreateTaskDocument, {
        input: shellTask({
          name,
          tag,
          isEnabled: index !== 1,
          bindingIds: index === 2 ? [bindingA, bindingB] : [bindingB],
        }),
      });
      ids.push(createTask.id);
    }
    const first = await admin.data(TasksDocument, { first: 2, filter: { tag } });
    expect(first.tasks.totalCount).toBe(3);
    expect(first.tasks.nodes.map((task) => task.id)).toEqual(ids.slice(0, 2));
    expect(first.tasks.pageInfo.hasNextPage).toBe(true);
    const second = await admin.data(TasksDocument, {
      first: 2,
      after: first.tasks.pageInfo.endCursor,
      filter: { tag },
    });
    expect(second.tasks.nodes.map((task) => task.id)).toEqual(ids.slice(2));
    expect(second.tasks.pageInfo.hasNextPage).toBe(false);

    const names = async (filter: TaskFilter) =>
      (await admin.data(TasksDocument, { filter: { tag, ...filter } })).tasks.nodes.map(
        (task) => task.name,
      );
    expect(await names({ search: 'GAMMA' })).toEqual(['gamma job']);
    expect(await names({ isEnabled: false })).toEqual(['beta job']);
    expect(await names({ kind: 'SHELL' })).toHaveLength(3);
    const onA = await admin.data(TasksDocument, { filter: { tag, bindingId: bindingA } });
    expect(onA.tasks.nodes.map((task) => task.name)).toEqual(['gamma job']);
    expect(onA.tasks.totalCount).toBe(1);
    // The task on two bindings is counted once.
    const onB = await admin.data(TasksDocument, { filter: { tag, bindingId: bindingB } });
    expect(onB.tasks.totalCount).toBe(3);
  });

  it('deletes a task and returns its id; it is gone afterwards', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: shellTask({ bindingIds: [bindingA] }),
    });
    expect((await admin.data(DeleteTaskDocument, { id: createTask.id })).deleteTask).toBe(
      createTask.id,
    );
    expect(await admin.errorCode(TaskDocument, { id: createTask.id })).toBe('NOT_FOUND');
    expect(await admin.errorCode(DeleteTaskDocument, { id: createTask.id })).toBe('NOT_FOUND');
    const links = await sql(server, 'select 1 from task_bindings where task_id = ?', [
      Number(createTask.id),
    ]);
    expect(links).toEqual([]);
  });

  it('writes an audit entry for each change, with the changed fields', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: shellTask({ name: 'audited', bindingIds: [bindingA] }),
    });
    await admin.data(UpdateTaskDocument, { id: createTask.id, input: { name: 'audited v2' } });
    await admin.data(DeleteTaskDocument, { id: createTask.id });
    const entries = await auditEntries(server, 'Task', createTask.id);
    expect(entries.map((entry) => entry.action)).toEqual([
      'createTask',
      'updateTask',
      'deleteTask',
    ]);
    expect(entries[0]!.changes.name).toEqual({ before: null, after: 'audited' });
    expect(entries[0]!.changes.bindingIds).toEqual({ before: null, after: [Number(bindingA)] });
    expect(entries[1]!.changes).toEqual({ name: { before: 'audited', after: 'audited v2' } });
    expect(entries[2]!.changes.name).toEqual({ before: 'audited v2', after: null });
    expect(entries[0]!.actor_name).toBe('admin');
  });

  it('previews fire times across the New York spring gap, once per day', async () => {
    const { nextFireTimes } = await admin.data(NextFireTimesDocument, {
      cronExpression: '30 2 * * *',
      timeZone: 'America/New_York',
      count: 3,
      after: '2026-03-07T00:00:00Z',
    });
    expect(nextFireTimes).toEqual([
      '2026-03-07T07:30:00.000Z',
      '2026-03-08T07:30:00.000Z',
      '2026-03-09T06:30:00.000Z',
    ]);
    const defaults = await admin.data(NextFireTimesDocument, { cronExpression: '* * * * *' });
    expect(defaults.nextFireTimes).toHaveLength(5);
  });

  it('refuses a bad preview with the argument named', async () => {
    const count = await admin.error(NextFireTimesDocument, {
      cronExpression: '* * * * *',
      count: 101,
    });
    expect(count.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'count' });
    const zone = await admin.error(NextFireTimesDocument, {
      cronExpression: '* * * * *',
      timeZone: 'Nowhere/Land',
    });
    expect(zone.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'timeZone' });
  });
});
