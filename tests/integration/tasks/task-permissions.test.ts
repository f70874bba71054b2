import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateTaskDocument,
  DeleteTaskDocument,
  DeleteTaskInstanceDocument,
  NextFireTimesDocument,
  RunTaskDocument,
  TaskDocument,
  TaskInstanceDocument,
  TaskInstancesDocument,
  TasksDocument,
  UpdateTaskDocument,
} from '../../generated/graphql.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { createUser, type TestUser } from '../../helpers/users.js';
import { shellTask, sql } from './fixtures.js';

describe('who may read and change tasks and runs', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let guest: TestUser;
  let aliceTaskId: string;
  let aliceRunId: string;
  beforeAll(async () => {
    server = await startTestServer();
    [alice, bob, guest] = await Promise.all([
      createUser(server, 'USER', 'alice'),
      createUser(server, 'USER', 'bob'),
      createUser(server, 'GUEST'),
    ]);
    const { createTask } = await alice.client.data(CreateTaskDocument, {
      input: shellTask({ name: "alice's task", cronExpression: '0 4 * * *' }),
    });
    aliceTaskId = createTask.id;
    const { runTask } = await alice.client.data(RunTaskDocument, { id: aliceTaskId });
    aliceRunId = runTask.id;
    await sql(server, 'update task_instances set status = 2 where id = ?', [aliceRunId]);
  });
  afterAll(() => server?.stop());

  it('a user owns what they create and can run their own task', async () => {
    const { task } = await alice.client.data(TaskDocument, { id: aliceTaskId });
    expect(task.ownerId).toBe(alice.id);
    const { runTask } = await alice.client.data(RunTaskDocument, { id: aliceTaskId });
    expect(runTask).toMatchObject({ taskId: aliceTaskId, status: 'SCHEDULED', trigger: 'MANUAL' });
  });

  it('a guest reads tasks, runs and previews', async () => {
    expect((await guest.client.data(TaskDocument, { id: aliceTaskId })).task.name).toBe(
      "alice's task",
    );
    expect(
      (await guest.client.data(TasksDocument, { first: 10 })).tasks.totalCount,
    ).toBeGreaterThan(0);
    expect(
      (await guest.client.data(TaskInstanceDocument, { id: aliceRunId })).taskInstance.id,
    ).toBe(aliceRunId);
    expect(
      (await guest.client.data(TaskInstancesDocument, { first: 10 })).taskInstances.totalCount,
    ).toBe(2);
    const { nextFireTimes } = await guest.client.data(NextFireTimesDocument, {
      cronExpression: '0 0 * * *',
      count: 2,
    });
    expect(nextFireTimes).toHaveLength(2);
  });

  it('a guest may change nothing', async () => {
    const attempts = [
      guest.client.errorCode(CreateTaskDocument, { input: shellTask() }),
      guest.client.errorCode(UpdateTaskDocument, { id: aliceTaskId, input: { name: 'x' } }),
      guest.client.errorCode(DeleteTaskDocument, { id: aliceTaskId }),
      guest.client.errorCode(RunTaskDocument, { id: aliceTaskId }),
      guest.client.errorCode(DeleteTaskInstanceDocument, { id: aliceRunId }),
    ];
    expect(await Promise.all(attempts)).toEqual(Array(attempts.length).fill('FORBIDDEN'));
  });

  it("a user may not change, run or delete another user's task or runs", async () => {
    const attempts = [
      bob.client.error(UpdateTaskDocument, { id: aliceTaskId, input: { name: 'mine now' } }),
      bob.client.error(DeleteTaskDocument, { id: aliceTaskId }),
      bob.client.error(RunTaskDocument, { id: aliceTaskId }),
      bob.client.error(DeleteTaskInstanceDocument, { id: aliceRunId }),
    ];
    for (const error of await Promise.all(attempts)) {
      expect(error.extensions?.code).toBe('FORBIDDEN');
      expect(error.message).toMatch(/owner or an admin/);
    }
  });

  it('refused mutations changed nothing', async () => {
    const { task } = await alice.client.data(TaskDocument, { id: aliceTaskId });
    expect(task.name).toBe("alice's task");
    const { taskInstances } = await alice.client.data(TaskInstancesDocument, {
      filter: { taskId: aliceTaskId },
    });
    expect(taskInstances.totalCount).toBe(2);
    const audit = await sql<{ count: string }>(
      server,
      "select count(*) from audit_entries where actor_name in ('bob', ?) " +
        "and entity_type in ('Task', 'TaskInstance')",
      [guest.username],
    );
    expect(Number(audit[0]!.count)).toBe(0);
  });

  it('an admin may change any task', async () => {
    const admin = await server.asAdmin();
    const { updateTask } = await admin.data(UpdateTaskDocument, {
      id: aliceTaskId,
      input: { tag: 'reviewed' },
    });
    expect(updateTask).toMatchObject({ tag: 'reviewed', ownerId: alice.id });
    expect(
      (await admin.data(DeleteTaskInstanceDocument, { id: aliceRunId })).deleteTaskInstance,
    ).toBe(aliceRunId);
  });

  it('asks anonymous callers to log in', async () => {
    expect(await server.anonymous.errorCode(TasksDocument, { first: 10 })).toBe('UNAUTHENTICATED');
  });
});
