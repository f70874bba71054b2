import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateTaskDocument,
  RunTaskDocument,
  TaskInstanceLogsDocument,
  TaskInstancesDocument,
  TaskWithInstancesDocument,
  type TaskInstanceFilter,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { insertBinding, shellTask, sql } from '../tasks/fixtures.js';

describe('listing runs and reading their logs', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  let taskA: string;
  let taskB: string;
  /** Runs of task A, oldest first. */
  let runsA: string[];
  let runB: string;
  let executorId: string;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
    const [a, b] = await Promise.all(
      ['task A', 'task B'].map(
        async (name) =>
          // Room for the five runs of task A at once (maxParallelRuns is 1 by default).
          (
            await admin.data(CreateTaskDocument, {
              input: shellTask({ name, maxParallelRuns: 10 }),
            })
          ).createTask.id,
      ),
    );
    taskA = a!;
    taskB = b!;
    runsA = [];
    for (let i = 0; i < 5; i++) {
      runsA.push((await admin.data(RunTaskDocument, { id: taskA })).runTask.id);
    }
    runB = (await admin.data(RunTaskDocument, { id: taskB })).runTask.id;
    await insertBinding(server, 'queries');
    const [executor] = await sql<{ id: number }>(server, 'select id from executors');
    executorId = String(executor!.id);
    // Online and just heard from, as a heartbeating executor is: otherwise the reaper would
    // (rightly) end the run said to be running on it as UNKNOWN while the test reads it.
    await sql(
      server,
      'update executors set is_online = true, last_heartbeat_at = now() where id = ?',
      [executor!.id],
    );
    // Runs 0 and 1 are over, run 2 is running on the executor, run 3 was a cron fire.
    await sql(server, 'update task_instances set status = 2 where id in (?, ?)', [
      runsA[0],
      runsA[1],
    ]);
    await sql(server, 'update task_instances set status = 1, executor_id = ? where id = ?', [
      executor!.id,
      runsA[2],
    ]);
    await sql(
      server,
      "update task_instances set trigger = 'CRON', scheduled_at = '2026-03-01T12:00:00Z' where id = ?",
      [runsA[3]],
    );
    await sql(
      server,
      "update task_instances set created_at = '2020-01-01T00:00:00Z' where id = ?",
      [runsA[0]],
    );
  });
  afterAll(() => server?.stop());

  const ids = async (filter: TaskInstanceFilter, first = 50) =>
    (await admin.data(TaskInstancesDocument, { filter, first })).taskInstances.nodes.map(
      (node) => node.id,
    );

  it('lists runs newest first, in stable pages with a total', async () => {
    const newestFirst = [...runsA].reverse();
    const seen: string[] = [];
    let after: string | null | undefined;
    for (let page = 0; page < 3; page++) {
      const { taskInstances } = await admin.data(TaskInstancesDocument, {
        first: 2,
        after,
        filter: { taskId: taskA },
      });
      expect(taskInstances.totalCount).toBe(5);
      expect(taskInstances.pageInfo.hasNextPage).toBe(page < 2);
      seen.push(...taskInstances.nodes.map((node) => node.id));
      after = taskInstances.pageInfo.endCursor;
    }
    expect(seen).toEqual(newestFirst);
    const all = await admin.data(TaskInstancesDocument, { first: 10 });
    expect(all.taskInstances.nodes.map((node) => node.id)).toEqual([runB, ...newestFirst]);
  });

  it('filters by task, statuses, trigger, executor and creation time', async () => {
    expect(await ids({ taskId: taskB })).toEqual([runB]);
    expect(await ids({ taskId: taskA, statuses: ['FINISHED'] })).toEqual([runsA[1], runsA[0]]);
    expect(await ids({ statuses: ['RUNNING', 'FINISHED'] })).toEqual([
      runsA[2],
      runsA[1],
      runsA[0],
    ]);
    expect(await ids({ statuses: ['SCHEDULED'] })).toEqual([runB, runsA[4], runsA[3]]);
    expect(await ids({ trigger: 'CRON' })).toEqual([runsA[3]]);
    // Any of no statuses: none.
    expect(await ids({ statuses: [] })).toEqual([]);
    expect(await ids({ trigger: 'MANUAL', taskId: taskA })).toHaveLength(4);
    expect(await ids({ executorId })).toEqual([runsA[2]]);
    expect(await ids({ createdBefore: '2021-01-01T00:00:00Z' })).toEqual([runsA[0]]);
    expect(await ids({ createdAfter: '2021-01-01T00:00:00Z', taskId: taskA })).toHaveLength(4);
  });

  it('filters by scheduled time: manual runs have none', async () => {
    expect(await ids({ scheduledAfter: '2026-03-01T12:00:00Z' })).toEqual([runsA[3]]);
    expect(await ids({ scheduledAfter: '2026-03-01T12:00:00.001Z' })).toEqual([]);
    expect(await ids({ scheduledBefore: '2026-03-01T12:00:00.001Z' })).toEqual([runsA[3]]);
    expect(await ids({ scheduledBefore: '2026-03-01T12:00:00Z' })).toEqual([]);
    expect(
      await ids({
        scheduledAfter: '2026-03-01T00:00:00Z',
        scheduledBefore: '2026-03-02T00:00:00Z',
        trigger: 'CRON',
      }),
    ).toEqual([runsA[3]]);
    const window = await admin.error(TaskInstancesDocument, {
      filter: { scheduledAfter: '2026-03-01T00:00:00Z', scheduledBefore: '2026-03-01T00:00:00Z' },
    });
    expect(window.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'filter.scheduledBefore',
    });
  });

  it('refuses an empty time window and a malformed task id', async () => {
    const window = await admin.error(TaskInstancesDocument, {
      filter: { createdAfter: '2026-01-02T00:00:00Z', createdBefore: '2026-01-01T00:00:00Z' },
    });
    expect(window.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'filter.createdBefore',
    });
    const task = await admin.error(TaskInstancesDocument, { filter: { taskId: 'A' } });
    expect(task.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.taskId' });
  });

  it("lists a task's runs through Task.instances, newest first", async () => {
    const first = await admin.data(TaskWithInstancesDocument, { id: taskA, first: 3 });
    expect(first.task.instances.totalCount).toBe(5);
    expect(first.task.instances.nodes.map((node) => node.id)).toEqual([
      runsA[4],
      runsA[3],
      runsA[2],
    ]);
    const rest = await admin.data(TaskWithInstancesDocument, {
      id: taskA,
      first: 3,
      after: first.task.instances.pageInfo.endCursor,
    });
    expect(rest.task.instances.nodes.map((node) => node.id)).toEqual([runsA[1], runsA[0]]);
    expect(rest.task.instances.pageInfo.hasNextPage).toBe(false);
  });

  it('pages logs in (attempt, seq) order, whatever order they were stored in', async () => {
    const instance = runsA[2]!;
    // Stored out of order, as an executor replaying its outbox may do.
    const chunks: [number, number, string][] = [
      [2, 1, 'a2-s1'],
      [1, 2, 'a1-s2'],
      [2, 0, 'a2-s0'],
      [1, 0, 'a1-s0'],
      [1, 1, 'a1-s1'],
    ];
    for (const [attempt, seq, content] of chunks) {
      await sql(
        server,
        'insert into task_logs (instance_id, attempt, seq, stream, content, emitted_at) ' +
          "values (?, ?, ?, 'STDOUT', ?, now())",
        [instance, attempt, seq, content],
      );
    }
    const read = async (attempt?: number) => {
      const contents: string[] = [];
      let after: string | null | undefined;
      let pages = 0;
      do {
        const { taskInstance } = await admin.data(TaskInstanceLogsDocument, {
          id: instance,
          first: 2,
          after,
          attempt,
        });
        expect(taskInstance.logs.totalCount).toBe(attempt ? (attempt === 1 ? 3 : 2) : 5);
        for (const node of taskInstance.logs.nodes) expect(node.instanceId).toBe(instance);
        contents.push(...taskInstance.logs.nodes.map((node) => node.content));
        after = taskInstance.logs.pageInfo.hasNextPage
          ? taskInstance.logs.pageInfo.endCursor
          : null;
        pages++;
      } while (after);
      return { contents, pages };
    };
    expect(await read()).toEqual({
      contents: ['a1-s0', 'a1-s1', 'a1-s2', 'a2-s0', 'a2-s1'],
      pages: 3,
    });
    expect((await read(2)).contents).toEqual(['a2-s0', 'a2-s1']);
    expect((await read(1)).contents).toEqual(['a1-s0', 'a1-s1', 'a1-s2']);
  });

  it('a run without output has an empty log', async () => {
    const { taskInstance } = await admin.data(TaskInstanceLogsDocument, { id: runB });
    expect(taskInstance.logs).toEqual({
      nodes: [],
      totalCount: 0,
      pageInfo: { hasNextPage: false, endCursor: null },
    });
  });

  it('refuses a log cursor it did not make', async () => {
    const error = await admin.error(TaskInstanceLogsDocument, { id: runB, after: 'aWQ6MTI' });
    expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
  });
});
