import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateTaskDocument,
  RunTasksDocument,
  type CreateTaskInput,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { createUser } from '../../helpers/users.js';
import { auditEntries, shellTask, sql } from '../tasks/fixtures.js';

/* Tasks without bindings: the dispatcher finds no executor, so runs stay SCHEDULED. */
describe('runTasks: many runs in one call', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  const newTask = async (input: Partial<CreateTaskInput> = {}) =>
    (await admin.data(CreateTaskDocument, { input: shellTask(input) })).createTask;
  const runCount = async (taskIds: string[]) =>
    Number(
      (
        await sql<{ count: string }>(
          server,
          'select count(*) from task_instances where task_id = any(?::int[])',
          [`{${taskIds.join(',')}}`],
        )
      )[0]!.count,
    );

  it('creates every run, in order, with its overrides, the same task more than once', async () => {
    const first = await newTask({ command: 'echo', maxParallelRuns: 10 });
    const second = await newTask({ command: 'printf', overlapPolicy: 'WAIT' });
    const { runTasks } = await admin.data(RunTasksDocument, {
      runs: [
        { taskId: first.id },
        { taskId: second.id, overrides: { arguments: ['a b'] } },
        { taskId: first.id, overrides: { arguments: ['x'] } },
      ],
    });
    expect(runTasks.map((run) => [run.taskId, run.command, run.status, run.trigger])).toEqual([
      [first.id, 'echo', 'SCHEDULED', 'MANUAL'],
      [second.id, "printf 'a b'", 'SCHEDULED', 'MANUAL'],
      [first.id, "echo 'x'", 'SCHEDULED', 'MANUAL'],
    ]);
    const ids = runTasks.map((run) => BigInt(run.id));
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
    // Each run's own snapshot, though runs of one task without overrides share theirs.
    for (const run of runTasks) {
      const [entry] = await auditEntries(server, 'TaskInstance', run.id);
      expect(entry).toMatchObject({ action: 'runTask', actor_name: 'admin' });
      expect(entry!.changes.command).toEqual({ before: null, after: run.command });
      expect(entry!.changes.taskId).toEqual({ before: null, after: Number(run.taskId) });
    }
  });

  it('creates none when one is refused, and names the refused one', async () => {
    const open = await newTask({ maxParallelRuns: 5 });
    const full = await newTask({ maxParallelRuns: 1, overlapPolicy: 'SKIP' });
    const overflow = await admin.error(RunTasksDocument, {
      runs: [{ taskId: open.id }, { taskId: full.id }, { taskId: full.id }],
    });
    expect(overflow.extensions?.code).toBe('CONFLICT');
    expect(overflow.message).toContain(`Task ${full.id} already has 1 of maxParallelRuns 1`);

    const badOverride = await admin.error(RunTasksDocument, {
      runs: [
        { taskId: open.id },
        { taskId: open.id, overrides: { env: [{ name: '1X', value: '' }] } },
      ],
    });
    expect(badOverride.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: expect.stringMatching(/^runs\[1\]\.overrides\.env/),
    });
    expect(await admin.errorCode(RunTasksDocument, { runs: [{ taskId: '999999' }] })).toBe(
      'NOT_FOUND',
    );
    expect(await runCount([open.id, full.id])).toBe(0);
  });

  it('takes 1 to 1000 runs per call', async () => {
    const task = await newTask({ maxParallelRuns: 10_000, overlapPolicy: 'WAIT' });
    expect(await admin.errorCode(RunTasksDocument, { runs: [] })).toBe('BAD_USER_INPUT');
    const tooMany = Array.from({ length: 1001 }, () => ({ taskId: task.id }));
    expect(await admin.errorCode(RunTasksDocument, { runs: tooMany })).toBe('BAD_USER_INPUT');
    const { runTasks } = await admin.data(RunTasksDocument, { runs: tooMany.slice(1) });
    expect(runTasks).toHaveLength(1000);
    expect(await runCount([task.id])).toBe(1000);
  });

  it("refuses another user's task and guests", async () => {
    const task = await newTask();
    const user = await createUser(server, 'USER');
    expect(await user.client.errorCode(RunTasksDocument, { runs: [{ taskId: task.id }] })).toBe(
      'FORBIDDEN',
    );
    const guest = await createUser(server, 'GUEST');
    expect(await guest.client.errorCode(RunTasksDocument, { runs: [{ taskId: task.id }] })).toBe(
      'FORBIDDEN',
    );
    expect(await runCount([task.id])).toBe(0);
  });
});
