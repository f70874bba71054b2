import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateTaskDocument,
  TaskDocument,
  TasksDocument,
  UpdateTaskDocument,
  type CreateTaskInput,
  type UpdateTaskInput,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { insertBinding, shellTask, sql } from './fixtures.js';

describe('task input validation', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  let binding: string;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
    binding = await insertBinding(server, 'validation');
  });
  afterAll(() => server?.stop());

  const taskCount = async (): Promise<number> =>
    Number((await sql<{ count: string }>(server, 'select count(*) from tasks'))[0]!.count);

  it.each<[string, Partial<CreateTaskInput>, string, RegExp]>([
    ['a bad cron expression', { cronExpression: '61 * * * *' }, 'cronExpression', /61/],
    [
      'a cron expression with 7 fields',
      { cronExpression: '0 0 0 * * * 2026' },
      'cronExpression',
      /5 fields .* has 7/,
    ],
    ['a cron expression that never fires', { cronExpression: '0 0 30 2 *' }, 'cronExpression', /./],
    ['a bad time zone', { timeZone: 'Mars/Olympus_Mons' }, 'timeZone', /IANA time zone/],
    ['TIMES without frequencyTimes', { frequency: 'TIMES' }, 'frequencyTimes', /required/],
    ['TIMES with 0 times', { frequency: 'TIMES', frequencyTimes: 0 }, 'frequencyTimes', /1 to/],
    ['frequencyTimes without TIMES', { frequencyTimes: 2 }, 'frequencyTimes', /absent/],
    ['timeout 0', { timeoutSeconds: 0 }, 'timeoutSeconds', /from 1 to 604800; got 0/],
    ['timeout over 7 days', { timeoutSeconds: 604_801 }, 'timeoutSeconds', /604800/],
    ['a blank name', { name: '   ' }, 'name', /must not be empty/],
    ['a name of 101 characters', { name: 'n'.repeat(101) }, 'name', /at most 100/],
    ['a blank command', { command: ' \n ' }, 'command', /blank/],
    ['a command over 64 KiB', { command: 'x'.repeat(65_537) }, 'command', /65536/],
    ['a description over 2000', { description: 'd'.repeat(2001) }, 'description', /2000/],
    ['retryTimes 101', { retryTimes: 101 }, 'retryTimes', /0 to 100/],
    ['retryIntervalSeconds -1', { retryIntervalSeconds: -1 }, 'retryIntervalSeconds', /0 to/],
    ['maxParallelRuns 0', { maxParallelRuns: 0 }, 'maxParallelRuns', /1 to 10000/],
    ['a tag over 100', { tag: 't'.repeat(101) }, 'tag', /100/],
    ['a malformed binding id', { bindingIds: ['abc'] }, 'bindingIds', /positive integer id/],
    ['a binding listed twice', { bindingIds: ['1', '1'] }, 'bindingIds', /twice/],
    ['a name with NUL', { name: 'nul\u0000byte' }, 'name', /NUL character/],
    ['a command with NUL', { command: 'echo \u0000' }, 'command', /NUL character/],
    ['expectedOutput with NUL', { expectedOutput: '\u0000' }, 'expectedOutput', /NUL/],
    ['a tag with a lone surrogate', { tag: 'x\ud800y' }, 'tag', /well-formed Unicode/],
    [
      'activeFrom in year 0',
      { activeFrom: '0000-01-01T00:00:00Z' },
      'activeFrom',
      /from 1970-01-01 to 9999-12-31 \(UTC\); got 0000-01-01T00:00:00.000Z/,
    ],
    ['activeUntil before 1970', { activeUntil: '1969-07-20T20:17:00Z' }, 'activeUntil', /1970/],
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

  it('refuses an unknown binding id with NOT_FOUND naming input.bindingIds', async () => {
    const countBefore = await taskCount();
    const error = await admin.error(CreateTaskDocument, {
      input: shellTask({ bindingIds: [binding, '999999'] }),
    });
    expect(error.extensions).toMatchObject({ code: 'NOT_FOUND', field: 'input.bindingIds' });
    expect(error.message).toMatch(/999999/);
    expect(await taskCount()).toBe(countBefore);
  });

  it('a rejected update changes nothing, including the bindings', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: shellTask({ name: 'stable', cronExpression: '0 1 * * *', bindingIds: [binding] }),
    });
    const attempts: UpdateTaskInput[] = [
      { name: 'renamed', cronExpression: '0 0 0 * * * *' },
      { name: 'renamed', bindingIds: ['424242'] },
      { name: 'renamed', frequency: 'TIMES' },
      { name: 'renamed', timeZone: 'Europe/Atlantis' },
      { name: 'renamed', activeFrom: '0000-01-01T00:00:00Z' },
      { name: 'renamed', description: 'nul\u0000byte' },
      { name: 'renamed', command: 'x\udfffy' },
    ];
    for (const input of attempts) {
      const error = await admin.error(UpdateTaskDocument, { id: createTask.id, input });
      expect(['BAD_USER_INPUT', 'NOT_FOUND']).toContain(error.extensions?.code);
    }
    const { task } = await admin.data(TaskDocument, { id: createTask.id });
    expect(task).toEqual(createTask);
  });

  it('an update keeps frequencyTimes consistent with frequency', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: shellTask({ cronExpression: '0 1 * * *', frequency: 'TIMES', frequencyTimes: 2 }),
    });
    const sent = await admin.error(UpdateTaskDocument, {
      id: createTask.id,
      input: { frequency: 'ONCE', frequencyTimes: 4 },
    });
    expect(sent.extensions).toMatchObject({ field: 'input.frequencyTimes' });
    const cleared = await admin.error(UpdateTaskDocument, {
      id: createTask.id,
      input: { frequencyTimes: null },
    });
    expect(cleared.extensions).toMatchObject({ field: 'input.frequencyTimes' });
    const { updateTask } = await admin.data(UpdateTaskDocument, {
      id: createTask.id,
      input: { frequency: 'ONCE' },
    });
    expect(updateTask).toMatchObject({ frequency: 'ONCE', frequencyTimes: null });
  });

  it('normalises what it stores: cron spacing and time zone letter case', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: shellTask({ cronExpression: ' 0  5 * *   1-5 ', timeZone: 'europe/berlin' }),
    });
    expect(createTask).toMatchObject({ cronExpression: '0 5 * * 1-5', timeZone: 'Europe/Berlin' });
  });

  it('refuses malformed ids, page sizes and cursors', async () => {
    const id = await admin.error(TaskDocument, { id: 'twelve' });
    expect(id.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
    expect(await admin.errorCode(TaskDocument, { id: '987654' })).toBe('NOT_FOUND');
    expect(await admin.errorCode(TasksDocument, { first: 0 })).toBe('BAD_USER_INPUT');
    expect(await admin.errorCode(TasksDocument, { after: 'bogus' })).toBe('BAD_USER_INPUT');
    const filter = await admin.error(TasksDocument, { filter: { bindingId: '-3' } });
    expect(filter.extensions).toMatchObject({ field: 'filter.bindingId' });
  });
});
