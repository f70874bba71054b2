import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snowflakeTime } from '../../../src/shared/snowflake.js';
import {
  CreateTaskDocument,
  DeleteTaskDocument,
  DeleteTaskInstanceDocument,
  RunTaskDocument,
  TaskDocument,
  TaskInstanceDocument,
  TaskInstanceLogsDocument,
  UpdateTaskDocument,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { createUser } from '../../helpers/users.js';
import { auditEntries, shellTask, sql } from '../tasks/fixtures.js';

/** Status codes, as stored. */
const RUNNING = 1;
const FINISHED = 2;

describe('runTask, and deleting tasks and runs', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  const setStatus = (instanceId: string, status: number) =>
    sql(server, 'update task_instances set status = ? where id = ?', [status, instanceId]);

  const newTask = async (name: string) =>
    (
      await admin.data(CreateTaskDocument, {
        input: shellTask({
          name,
          command: 'echo one',
          cronExpression: '15 3 * * *',
          timeZone: 'Europe/Berlin',
          timeoutSeconds: 120,
          retryTimes: 2,
          maxParallelRuns: 3,
          tag: 'ops',
        }),
      })
    ).createTask;

  it('creates a SCHEDULED manual run with a snowflake id and a snapshot of the task', async () => {
    const task = await newTask('snapshot me');
    const before = Date.now();
    const { runTask } = await admin.data(RunTaskDocument, { id: task.id });
    expect(runTask).toMatchObject({
      taskId: task.id,
      taskName: 'snapshot me',
      kind: 'SHELL',
      command: 'echo one',
      cronExpression: '15 3 * * *',
      timeZone: 'Europe/Berlin',
      timeoutSeconds: 120,
      retryTimes: 2,
      maxParallelRuns: 3,
      tag: 'ops',
      trigger: 'MANUAL',
      scheduledAt: null,
      status: 'SCHEDULED',
      statusCode: 10,
      attempt: 1,
      exitCode: null,
      executorId: null,
    });
    // A snowflake minted now by this replica: its time and machine id are in the id.
    expect(runTask.id).toMatch(/^\d{15,19}$/);
    expect(Math.abs(snowflakeTime(runTask.id).getTime() - before)).toBeLessThan(5000);
    expect(Number((BigInt(runTask.id) >> 12n) & 1023n)).toBe(server.app.machineId);

    const second = await admin.data(RunTaskDocument, { id: task.id });
    expect(BigInt(second.runTask.id)).toBeGreaterThan(BigInt(runTask.id));

    const [audit] = await auditEntries(server, 'TaskInstance', runTask.id);
    expect(audit).toMatchObject({ action: 'runTask', actor_name: 'admin' });
    expect(audit!.changes.status).toEqual({ before: null, after: 'SCHEDULED' });
  });

  it('editing the task afterwards does not change the run', async () => {
    const task = await newTask('before edit');
    const { runTask } = await admin.data(RunTaskDocument, { id: task.id });
    await admin.data(UpdateTaskDocument, {
      id: task.id,
      input: { name: 'after edit', command: 'echo two', timeoutSeconds: 5, tag: 'changed' },
    });
    const { taskInstance } = await admin.data(TaskInstanceDocument, { id: runTask.id });
    expect(taskInstance).toEqual(runTask);
  });

  it('refuses to run a task that does not exist', async () => {
    expect(await admin.errorCode(RunTaskDocument, { id: '777777' })).toBe('NOT_FOUND');
  });

  it('refuses to delete a task while a run is scheduled or running, and changes nothing', async () => {
    const task = await newTask('busy');
    const { runTask } = await admin.data(RunTaskDocument, { id: task.id });
    const scheduled = await admin.error(DeleteTaskDocument, { id: task.id });
    expect(scheduled.extensions?.code).toBe('CONFLICT');
    expect(scheduled.message).toMatch(/1 run\(s\) scheduled, dispatched or running/);

    await setStatus(runTask.id, RUNNING);
    expect(await admin.errorCode(DeleteTaskDocument, { id: task.id })).toBe('CONFLICT');
    expect((await admin.data(TaskDocument, { id: task.id })).task.name).toBe('busy');
    const audit = await auditEntries(server, 'Task', task.id);
    expect(audit.map((entry) => entry.action)).toEqual(['createTask']);
  });

  it('deletes a task once its runs are over; they keep their snapshot, with taskId null', async () => {
    const task = await newTask('finished soon');
    const { runTask } = await admin.data(RunTaskDocument, { id: task.id });
    await setStatus(runTask.id, FINISHED);
    expect((await admin.data(DeleteTaskDocument, { id: task.id })).deleteTask).toBe(task.id);
    const { taskInstance } = await admin.data(TaskInstanceDocument, { id: runTask.id });
    expect(taskInstance).toEqual({
      ...runTask,
      taskId: null,
      status: 'FINISHED',
      statusCode: FINISHED,
    });
  });

  it('deletes a run only once it is over, with its logs', async () => {
    const task = await newTask('log keeper');
    const { runTask } = await admin.data(RunTaskDocument, { id: task.id });
    await sql(
      server,
      "insert into task_logs (instance_id, attempt, seq, stream, content, emitted_at) values (?, 1, 0, 'STDOUT', 'hi', now())",
      [runTask.id],
    );
    await setStatus(runTask.id, RUNNING);
    const running = await admin.error(DeleteTaskInstanceDocument, { id: runTask.id });
    expect(running.extensions?.code).toBe('CONFLICT');
    expect(running.message).toMatch(/is RUNNING/);
    const { taskInstance } = await admin.data(TaskInstanceLogsDocument, { id: runTask.id });
    expect(taskInstance.logs.totalCount).toBe(1);

    await setStatus(runTask.id, FINISHED);
    expect(
      (await admin.data(DeleteTaskInstanceDocument, { id: runTask.id })).deleteTaskInstance,
    ).toBe(runTask.id);
    expect(await admin.errorCode(TaskInstanceDocument, { id: runTask.id })).toBe('NOT_FOUND');
    const logs = await sql(server, 'select 1 from task_logs where instance_id = ?', [runTask.id]);
    expect(logs).toEqual([]);
    const audit = await auditEntries(server, 'TaskInstance', runTask.id);
    expect(audit.map((entry) => entry.action)).toEqual(['runTask', 'deleteTaskInstance']);
  });

  it('a run of a deleted task can be deleted by an admin only', async () => {
    const owner = await createUser(server, 'USER');
    const { createTask } = await owner.client.data(CreateTaskDocument, { input: shellTask() });
    const { runTask } = await owner.client.data(RunTaskDocument, { id: createTask.id });
    await setStatus(runTask.id, FINISHED);
    await owner.client.data(DeleteTaskDocument, { id: createTask.id });
    expect(await owner.client.errorCode(DeleteTaskInstanceDocument, { id: runTask.id })).toBe(
      'FORBIDDEN',
    );
    expect(
      (await admin.data(DeleteTaskInstanceDocument, { id: runTask.id })).deleteTaskInstance,
    ).toBe(runTask.id);
  });

  it('validates run ids as 64-bit ids', async () => {
    for (const id of ['abc', '-1', '0', '99999999999999999999']) {
      const error = await admin.error(TaskInstanceDocument, { id });
      expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
    }
    expect(await admin.errorCode(DeleteTaskInstanceDocument, { id: 'x1' })).toBe('BAD_USER_INPUT');
    expect(await admin.errorCode(TaskInstanceDocument, { id: '123' })).toBe('NOT_FOUND');
  });
});
