import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateTaskDocument,
  RunTaskDocument,
  TaskInstanceDocument,
  UpdateTaskDocument,
  type CreateTaskInput,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { auditEntries, shellTask, sql } from '../tasks/fixtures.js';

/** Status codes, as stored. */
const RUNNING = 1;
const FINISHED = 2;
const DISPATCHED = 11;
const SKIPPED = 12;

/*
 * Tasks here are manual (no cron expression) and have no bindings: the ticker never fires them
 * and the dispatcher finds no executor, so runs stay where the tests put them.
 */
describe('runTask within the limits of its task, and what a run keeps of it', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  const newTask = async (input: Partial<CreateTaskInput>) =>
    (await admin.data(CreateTaskDocument, { input: shellTask(input) })).createTask;
  const run = async (taskId: string) => (await admin.data(RunTaskDocument, { id: taskId })).runTask;
  const setStatus = (instanceId: string, status: number) =>
    sql(server, 'update task_instances set status = ? where id = ?', [status, instanceId]);
  const runCount = async (taskId: string) =>
    Number(
      (
        await sql<{ count: string }>(
          server,
          'select count(*) from task_instances where task_id = ?',
          [taskId],
        )
      )[0]!.count,
    );

  it('with overlapPolicy SKIP, refuses a run beyond maxParallelRuns with CONFLICT', async () => {
    const task = await newTask({ name: 'two at most', maxParallelRuns: 2 });
    const first = await run(task.id);
    const second = await run(task.id);
    // Scheduled, dispatched and running runs all count.
    for (const status of [DISPATCHED, RUNNING]) {
      await setStatus(second.id, status);
      const error = await admin.error(RunTaskDocument, { id: task.id });
      expect(error.extensions?.code).toBe('CONFLICT');
      expect(error.message).toBe(
        `Task ${task.id} already has 2 of maxParallelRuns 2 runs; wait, or set overlapPolicy: WAIT.`,
      );
    }
    expect(await runCount(task.id)).toBe(2);
    const audit = await sql(
      server,
      "select 1 from audit_entries where action = 'runTask' and changes->'taskId'->>'after' = ?",
      [task.id],
    );
    expect(audit).toHaveLength(2);

    // Runs that are over (or were skipped) do not count.
    await setStatus(first.id, FINISHED);
    await setStatus(second.id, SKIPPED);
    await run(task.id);
    await run(task.id);
    expect(await runCount(task.id)).toBe(4);
  });

  it('with overlapPolicy WAIT, creates the run, which waits SCHEDULED', async () => {
    const task = await newTask({ name: 'queue up', overlapPolicy: 'WAIT' });
    const first = await run(task.id);
    await setStatus(first.id, RUNNING);
    const waiting = await run(task.id);
    const third = await run(task.id);
    expect(waiting.status).toBe('SCHEDULED');
    expect(third.status).toBe('SCHEDULED');
    expect(await runCount(task.id)).toBe(3);
  });

  it('a lower maxParallelRuns applies at once; raising it makes room', async () => {
    const task = await newTask({ name: 'resized', maxParallelRuns: 3 });
    await run(task.id);
    await run(task.id);
    await admin.data(UpdateTaskDocument, { id: task.id, input: { maxParallelRuns: 1 } });
    expect(await admin.errorCode(RunTaskDocument, { id: task.id })).toBe('CONFLICT');
    await admin.data(UpdateTaskDocument, { id: task.id, input: { maxParallelRuns: 3 } });
    expect((await run(task.id)).status).toBe('SCHEDULED');
  });

  it('snapshots priority, retry settings and the dispatch deadline; audits them', async () => {
    const task = await newTask({
      name: 'snapshot policies',
      priority: 7,
      retryTimes: 3,
      retryIntervalSeconds: 30,
      retryBackoff: 'EXPONENTIAL',
      retryMaxIntervalSeconds: 600,
      maxWaitSeconds: 300,
      env: [{ name: 'MODE', value: 'full' }],
    });
    const runTask = await run(task.id);
    expect(runTask).toMatchObject({
      priority: 7,
      retryTimes: 3,
      retryCount: 0,
      availableAt: null,
      attempt: 1,
    });
    const [row] = await sql<{
      retry_interval_seconds: number;
      retry_backoff: string;
      retry_max_interval_seconds: number;
      priority: number;
      deadline_after_creation: number;
    }>(
      server,
      'select retry_interval_seconds, retry_backoff, retry_max_interval_seconds, priority, ' +
        'extract(epoch from dispatch_deadline - now())::float8 as deadline_after_creation ' +
        'from task_instances where id = ?',
      [runTask.id],
    );
    expect(row).toMatchObject({
      retry_interval_seconds: 30,
      retry_backoff: 'EXPONENTIAL',
      retry_max_interval_seconds: 600,
      priority: 7,
    });
    // now + maxWaitSeconds on the database clock, read back a moment later.
    expect(row!.deadline_after_creation).toBeGreaterThan(240);
    expect(row!.deadline_after_creation).toBeLessThanOrEqual(300);

    const [audit] = await auditEntries(server, 'TaskInstance', runTask.id);
    expect(audit!.changes).toMatchObject({
      priority: { before: null, after: 7 },
      retryIntervalSeconds: { before: null, after: 30 },
      retryBackoff: { before: null, after: 'EXPONENTIAL' },
      retryMaxIntervalSeconds: { before: null, after: 600 },
      env: { before: null, after: { MODE: expect.stringMatching(/^\[REDACTED sha256:/) } },
      dispatchDeadline: { before: null, after: expect.any(String) },
    });

    // A later edit of the task does not reach the run.
    await admin.data(UpdateTaskDocument, {
      id: task.id,
      input: { priority: -5, retryIntervalSeconds: 1, retryBackoff: 'FIXED', maxWaitSeconds: null },
    });
    const { taskInstance } = await admin.data(TaskInstanceDocument, { id: runTask.id });
    expect(taskInstance).toEqual(runTask);
    const [after] = await sql(
      server,
      'select retry_interval_seconds, retry_backoff, dispatch_deadline is not null as has_deadline ' +
        'from task_instances where id = ?',
      [runTask.id],
    );
    expect(after).toEqual({
      retry_interval_seconds: 30,
      retry_backoff: 'EXPONENTIAL',
      has_deadline: true,
    });
  });

  it('a task without maxWaitSeconds gives its runs no dispatch deadline', async () => {
    const task = await newTask({ name: 'patient' });
    const runTask = await run(task.id);
    const [row] = await sql(server, 'select dispatch_deadline from task_instances where id = ?', [
      runTask.id,
    ]);
    expect(row).toEqual({ dispatch_deadline: null });
  });
});
