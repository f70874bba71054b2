import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateTaskDocument,
  RunTaskDocument,
  RunTasksDocument,
  UpdateTaskDocument,
  type CreateTaskInput,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { auditEntries, httpTaskWithEveryField, shellTask, sql } from '../tasks/fixtures.js';

/**
 * `runTask` of one run writes the run and its audit entry in one statement, the entry's changes
 * made in SQL; every other way of running a task makes them in TypeScript. Both must record the
 * same thing.
 */
describe('the audit entry of a run', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  /** The changes of a runTask run, and of a run of the same task made by runTasks. */
  async function bothWays(input: CreateTaskInput) {
    const { createTask } = await admin.data(CreateTaskDocument, { input });
    const { runTask } = await admin.data(RunTaskDocument, { id: createTask.id });
    const { runTasks } = await admin.data(RunTasksDocument, {
      runs: [{ taskId: createTask.id }, { taskId: createTask.id }],
    });
    const [single] = await auditEntries(server, 'TaskInstance', runTask.id);
    const [batched] = await auditEntries(server, 'TaskInstance', runTasks[0]!.id);
    return { single: single!, batched: batched!, deadline: await deadlineOf(runTask.id) };
  }

  /** A run's dispatch deadline as stored, to the millisecond. */
  async function deadlineOf(runId: string): Promise<Date | null> {
    const [row] = await sql<{ deadline_ms: string | null }>(
      server,
      'select floor(extract(epoch from dispatch_deadline) * 1000)::bigint as deadline_ms ' +
        'from task_instances where id = ?',
      [runId],
    );
    return row!.deadline_ms === null ? null : new Date(Number(row!.deadline_ms));
  }

  const withoutDeadline = (changes: Record<string, unknown>) => {
    const { dispatchDeadline: _deadline, ...rest } = changes;
    return rest;
  };

  it('is the same for an HTTP task with secrets, a deadline and every optional field', async () => {
    const { single, batched, deadline } = await bothWays(httpTaskWithEveryField('audited http'));
    expect(single.action).toBe('runTask');
    expect(single.actor_name).toBe('admin');
    expect(withoutDeadline(single.changes)).toEqual(withoutDeadline(batched.changes));
    expect(single.changes.dispatchDeadline).toEqual({
      before: null,
      after: deadline!.toISOString(),
    });
    expect(single.changes.env!.after).toEqual({
      A_FIRST: expect.stringMatching(/^\[REDACTED sha256:[0-9a-f]{12}\]$/),
      TOKEN: expect.stringMatching(/^\[REDACTED sha256:[0-9a-f]{12}\]$/),
    });
    expect(JSON.stringify(single.changes)).not.toContain('s3cret');
    expect(single.changes.status).toEqual({ before: null, after: 'SCHEDULED' });
  });

  it('is the same for the next runs of a task, and follows the task when it changes', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: httpTaskWithEveryField('audited again'),
    });
    /** The changes of a new runTask run, and the run's dispatch deadline as stored. */
    const runAudit = async () => {
      const { runTask } = await admin.data(RunTaskDocument, { id: createTask.id });
      const [entry] = await auditEntries(server, 'TaskInstance', runTask.id);
      return { changes: entry!.changes, deadline: (await deadlineOf(runTask.id))?.toISOString() };
    };
    // The first run's changes are made by the statement, the next ones' are given to it.
    const first = await runAudit();
    const second = await runAudit();
    expect(withoutDeadline(second.changes)).toEqual(withoutDeadline(first.changes));
    expect(second.changes.dispatchDeadline).toEqual({ before: null, after: second.deadline });
    expect(Object.keys(second.changes).sort()).toEqual(Object.keys(first.changes).sort());

    await admin.data(UpdateTaskDocument, {
      id: createTask.id,
      input: { name: 'audited again, renamed', maxWaitSeconds: null, priority: 7 },
    });
    const third = await runAudit();
    expect(third.changes.taskName).toEqual({ before: null, after: 'audited again, renamed' });
    expect(third.changes.priority).toEqual({ before: null, after: 7 });
    expect(third.changes.dispatchDeadline).toBeUndefined();
    const fourth = await runAudit();
    expect(fourth.changes).toEqual(third.changes);
  });

  it('is the same for a SHELL task with no environment and no deadline', async () => {
    const { single, batched, deadline } = await bothWays(
      shellTask({ name: 'audited shell', overlapPolicy: 'WAIT', workingDirectory: '/srv' }),
    );
    expect(deadline).toBeNull();
    expect(single.changes).toEqual(batched.changes);
    expect(single.changes.env).toEqual({ before: null, after: {} });
    expect(single.changes.httpRequest).toBeUndefined();
  });
});
