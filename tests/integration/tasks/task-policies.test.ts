import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateTaskDocument,
  TaskDocument,
  UpdateTaskDocument,
  type CreateTaskInput,
  type UpdateTaskInput,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { auditEntries, shellTask, sql } from './fixtures.js';

describe('task policies: overlap, misfire, retry backoff, priority, wait limit', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  const taskCount = async (): Promise<number> =>
    Number((await sql<{ count: string }>(server, 'select count(*) from tasks'))[0]!.count);

  it('creates a task with the default policies', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, { input: shellTask() });
    expect(createTask).toMatchObject({
      misfirePolicy: 'SKIP',
      overlapPolicy: 'SKIP',
      retryBackoff: 'FIXED',
      retryMaxIntervalSeconds: 3600,
      priority: 0,
      maxWaitSeconds: null,
      activeFrom: null,
      activeUntil: null,
      firedCount: 0,
    });
  });

  it('stores the policies given, reads them back, and audits them', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: shellTask({
        misfirePolicy: 'FIRE_ONCE',
        overlapPolicy: 'WAIT',
        retryBackoff: 'EXPONENTIAL',
        retryIntervalSeconds: 30,
        retryMaxIntervalSeconds: 600,
        priority: -1000,
        maxWaitSeconds: 604_800,
        activeFrom: '2031-01-01T00:00:00.000Z',
        activeUntil: '2031-12-31T23:59:59.000Z',
      }),
    });
    expect(createTask).toMatchObject({
      misfirePolicy: 'FIRE_ONCE',
      overlapPolicy: 'WAIT',
      retryBackoff: 'EXPONENTIAL',
      retryIntervalSeconds: 30,
      retryMaxIntervalSeconds: 600,
      priority: -1000,
      maxWaitSeconds: 604_800,
      activeFrom: '2031-01-01T00:00:00.000Z',
      activeUntil: '2031-12-31T23:59:59.000Z',
    });
    expect((await admin.data(TaskDocument, { id: createTask.id })).task).toEqual(createTask);
    const [row] = await sql(
      server,
      'select misfire_policy, overlap_policy, retry_backoff, retry_max_interval_seconds, ' +
        'priority, max_wait_seconds from tasks where id = ?',
      [createTask.id],
    );
    expect(row).toEqual({
      misfire_policy: 'FIRE_ONCE',
      overlap_policy: 'WAIT',
      retry_backoff: 'EXPONENTIAL',
      retry_max_interval_seconds: 600,
      priority: -1000,
      max_wait_seconds: 604_800,
    });
    const [created] = await auditEntries(server, 'Task', createTask.id);
    expect(created!.changes).toMatchObject({
      overlapPolicy: { before: null, after: 'WAIT' },
      priority: { before: null, after: -1000 },
      activeFrom: { before: null, after: '2031-01-01T00:00:00.000Z' },
    });
  });

  it('updates the policies, clears the nullable ones with null, and audits the change', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: shellTask({
        priority: 5,
        maxWaitSeconds: 60,
        activeFrom: '2031-01-01T00:00:00Z',
        activeUntil: '2032-01-01T00:00:00Z',
      }),
    });
    // Omitted fields stay as they are.
    const renamed = await admin.data(UpdateTaskDocument, {
      id: createTask.id,
      input: { name: 'renamed', priority: null },
    });
    expect(renamed.updateTask).toMatchObject({ priority: 5, maxWaitSeconds: 60 });
    const { updateTask } = await admin.data(UpdateTaskDocument, {
      id: createTask.id,
      input: {
        overlapPolicy: 'WAIT',
        misfirePolicy: 'FIRE_ONCE',
        retryBackoff: 'EXPONENTIAL',
        retryMaxIntervalSeconds: 120,
        priority: 1000,
        maxWaitSeconds: null,
        activeFrom: null,
        activeUntil: null,
      },
    });
    expect(updateTask).toMatchObject({
      overlapPolicy: 'WAIT',
      misfirePolicy: 'FIRE_ONCE',
      retryBackoff: 'EXPONENTIAL',
      retryMaxIntervalSeconds: 120,
      priority: 1000,
      maxWaitSeconds: null,
      activeFrom: null,
      activeUntil: null,
    });
    const audit = await auditEntries(server, 'Task', createTask.id);
    expect(audit.at(-1)!.changes).toEqual({
      overlapPolicy: { before: 'SKIP', after: 'WAIT' },
      misfirePolicy: { before: 'SKIP', after: 'FIRE_ONCE' },
      retryBackoff: { before: 'FIXED', after: 'EXPONENTIAL' },
      retryMaxIntervalSeconds: { before: 3600, after: 120 },
      priority: { before: 5, after: 1000 },
      maxWaitSeconds: { before: 60, after: null },
      activeFrom: { before: '2031-01-01T00:00:00.000Z', after: null },
      activeUntil: { before: '2032-01-01T00:00:00.000Z', after: null },
    });
  });

  it.each<[string, Partial<CreateTaskInput>, string, RegExp]>([
    [
      'retryMaxIntervalSeconds 0',
      { retryMaxIntervalSeconds: 0 },
      'retryMaxIntervalSeconds',
      /1 to/,
    ],
    [
      'retryMaxIntervalSeconds over 7 days',
      { retryMaxIntervalSeconds: 604_801 },
      'retryMaxIntervalSeconds',
      /604800/,
    ],
    [
      'an EXPONENTIAL cap below the interval',
      { retryBackoff: 'EXPONENTIAL', retryIntervalSeconds: 60, retryMaxIntervalSeconds: 59 },
      'retryMaxIntervalSeconds',
      /at least retryIntervalSeconds \(60\)/,
    ],
    ['priority -1001', { priority: -1001 }, 'priority', /-1000 to 1000/],
    ['priority 1001', { priority: 1001 }, 'priority', /-1000 to 1000/],
    ['maxWaitSeconds 0', { maxWaitSeconds: 0 }, 'maxWaitSeconds', /1 to 604800/],
    ['maxWaitSeconds over 7 days', { maxWaitSeconds: 604_801 }, 'maxWaitSeconds', /604800/],
    [
      'an empty active window',
      { activeFrom: '2031-01-01T00:00:00Z', activeUntil: '2031-01-01T00:00:00Z' },
      'activeUntil',
      /later than activeFrom/,
    ],
    [
      'an active window that ends before it starts',
      { activeFrom: '2031-01-02T00:00:00Z', activeUntil: '2031-01-01T00:00:00Z' },
      'activeUntil',
      /later than activeFrom/,
    ],
  ])(
    'refuses %s (BAD_USER_INPUT on input.%s) and creates nothing',
    async (_, input, field, message) => {
      const countBefore = await taskCount();
      const error = await admin.error(CreateTaskDocument, { input: shellTask(input) });
      expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: `input.${field}` });
      expect(error.message).toMatch(message);
      expect(await taskCount()).toBe(countBefore);
    },
  );

  it('a FIXED backoff may have a cap below the interval (the cap is not used)', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: shellTask({ retryIntervalSeconds: 60, retryMaxIntervalSeconds: 1 }),
    });
    expect(createTask).toMatchObject({ retryBackoff: 'FIXED', retryMaxIntervalSeconds: 1 });
  });

  it('checks an update against the task that results, naming the field sent, and changes nothing', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: shellTask({
        retryBackoff: 'EXPONENTIAL',
        retryIntervalSeconds: 10,
        retryMaxIntervalSeconds: 100,
        activeFrom: '2031-01-01T00:00:00Z',
        activeUntil: '2031-06-01T00:00:00Z',
      }),
    });
    const refused: [UpdateTaskInput, string][] = [
      [{ retryIntervalSeconds: 101 }, 'input.retryIntervalSeconds'],
      [{ retryMaxIntervalSeconds: 9 }, 'input.retryMaxIntervalSeconds'],
      [{ activeUntil: '2030-12-31T00:00:00Z' }, 'input.activeUntil'],
      [{ activeFrom: '2031-06-01T00:00:00Z' }, 'input.activeFrom'],
      [{ priority: 2000, name: 'changed' }, 'input.priority'],
    ];
    for (const [input, field] of refused) {
      const error = await admin.error(UpdateTaskDocument, { id: createTask.id, input });
      expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    // Switching to EXPONENTIAL is checked too: the cap of a FIXED task may be below the interval.
    const fixed = await admin.data(CreateTaskDocument, {
      input: shellTask({ retryIntervalSeconds: 60, retryMaxIntervalSeconds: 1 }),
    });
    const switched = await admin.error(UpdateTaskDocument, {
      id: fixed.createTask.id,
      input: { retryBackoff: 'EXPONENTIAL' },
    });
    expect(switched.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.retryBackoff',
    });
    expect((await admin.data(TaskDocument, { id: createTask.id })).task).toEqual(createTask);
    // Clearing one end makes any other end valid.
    const { updateTask } = await admin.data(UpdateTaskDocument, {
      id: createTask.id,
      input: { activeFrom: null, activeUntil: '2030-12-31T00:00:00Z' },
    });
    expect(updateTask).toMatchObject({ activeFrom: null, activeUntil: '2030-12-31T00:00:00.000Z' });
  });

  it('firedCount is read-only: the input types have no such field', async () => {
    const result = await admin.raw(
      'mutation { createTask(input: { name: "x", command: "true", firedCount: 3 }) { id } }',
    );
    expect(result.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});
