import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateTaskDocument,
  RunTaskDocument,
  TaskDocument,
  TaskInstanceDocument,
  UpdateTaskDocument,
  type TaskInstanceFieldsFragment,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { auditEntries, httpTask, shellTask, sql } from './fixtures.js';

type Snapshot = Pick<
  TaskInstanceFieldsFragment,
  'command' | 'env' | 'workingDirectory' | 'httpRequest' | 'expectedExitCode' | 'expectedOutput'
>;

/** The fields a run copies from its task (its status is not the point here). */
function snapshotOf(run: Snapshot): Snapshot {
  const { command, env, workingDirectory, httpRequest, expectedExitCode, expectedOutput } = run;
  return { command, env, workingDirectory, httpRequest, expectedExitCode, expectedOutput };
}

/** 200, 201, ..., 299: what an HTTP task accepts when it names no statuses. */
const any2xx = Array.from({ length: 100 }, (_, index) => 200 + index);

describe('tasks: environment, working directory, HTTP request and expectations', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  it('creates a SHELL task with env, working directory and expectations, and reads it back', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: shellTask({
        env: [
          { name: 'TARGET', value: '/backups' },
          { name: 'PGHOST', value: 'db.internal' },
          { name: 'EMPTY', value: '' },
        ],
        workingDirectory: '/srv/app data',
        expectedExitCode: 3,
        expectedOutput: 'dump complete',
      }),
    });
    expect(createTask).toMatchObject({
      kind: 'SHELL',
      env: [
        { name: 'EMPTY', value: '' },
        { name: 'PGHOST', value: 'db.internal' },
        { name: 'TARGET', value: '/backups' },
      ],
      workingDirectory: '/srv/app data',
      httpRequest: null,
      expectedExitCode: 3,
      expectedOutput: 'dump complete',
    });
    const { task } = await admin.data(TaskDocument, { id: createTask.id });
    expect(task).toEqual(createTask);
    const [row] = await sql(server, 'select env from tasks where id = ?', [Number(createTask.id)]);
    expect(row!.env).toEqual({ TARGET: '/backups', PGHOST: 'db.internal', EMPTY: '' });
  });

  it('defaults: no env, no working directory, exit code 0, no expected output', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, { input: shellTask() });
    expect(createTask).toMatchObject({
      env: [],
      workingDirectory: null,
      httpRequest: null,
      expectedExitCode: 0,
      expectedOutput: null,
    });
  });

  it('creates an HTTP task with an empty command, normalising its request', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: httpTask({
        httpRequest: {
          method: ' post ',
          url: ' https://hooks.example.com/deploy?env=prod ',
          headers: [
            { name: 'X-Request-Source', value: 'graphcron' },
            { name: 'content-type', value: 'application/json' },
            { name: 'Authorization', value: 'Bearer abc' },
          ],
          body: '{"ref":"main"}',
          expectedStatusCodes: [204, 200, 202],
        },
        expectedOutput: '',
      }),
    });
    expect(createTask).toMatchObject({
      kind: 'HTTP',
      command: '',
      env: [],
      expectedOutput: null,
      httpRequest: {
        method: 'POST',
        url: 'https://hooks.example.com/deploy?env=prod',
        headers: [
          { name: 'Authorization', value: 'Bearer abc' },
          { name: 'content-type', value: 'application/json' },
          { name: 'X-Request-Source', value: 'graphcron' },
        ],
        body: '{"ref":"main"}',
        expectedStatusCodes: [200, 202, 204],
      },
    });
    const { task } = await admin.data(TaskDocument, { id: createTask.id });
    expect(task).toEqual(createTask);
  });

  it('an HTTP request without method, headers, body or statuses is a GET accepting any 2xx', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: httpTask({ httpRequest: { url: 'http://localhost:8080/ping', body: '' } }),
    });
    expect(createTask.httpRequest).toEqual({
      method: 'GET',
      url: 'http://localhost:8080/ping',
      headers: [],
      body: null,
      expectedStatusCodes: any2xx,
    });
    const [row] = await sql(server, 'select http_request from tasks where id = ?', [
      Number(createTask.id),
    ]);
    expect(row!.http_request).toMatchObject({ expectedStatusCodes: any2xx });
  });

  it('updates only the given fields; null clears the clearable ones, [] clears env', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: shellTask({
        env: [{ name: 'A', value: '1' }],
        workingDirectory: '/tmp',
        expectedExitCode: 1,
        expectedOutput: 'ok',
      }),
    });
    const renamed = await admin.data(UpdateTaskDocument, {
      id: createTask.id,
      input: { name: 'renamed', env: null, expectedExitCode: null },
    });
    expect(renamed.updateTask).toMatchObject({
      name: 'renamed',
      env: [{ name: 'A', value: '1' }],
      workingDirectory: '/tmp',
      expectedExitCode: 1,
      expectedOutput: 'ok',
    });
    const replaced = await admin.data(UpdateTaskDocument, {
      id: createTask.id,
      input: { env: [{ name: 'B', value: '2' }], expectedExitCode: 0, expectedOutput: 'done' },
    });
    expect(replaced.updateTask).toMatchObject({
      env: [{ name: 'B', value: '2' }],
      expectedExitCode: 0,
      expectedOutput: 'done',
    });
    const cleared = await admin.data(UpdateTaskDocument, {
      id: createTask.id,
      input: { env: [], workingDirectory: null, expectedOutput: null },
    });
    expect(cleared.updateTask).toMatchObject({
      env: [],
      workingDirectory: null,
      expectedOutput: null,
    });
    const [row] = await sql(server, 'select env from tasks where id = ?', [Number(createTask.id)]);
    expect(row!.env).toEqual({});
  });

  it('switches a SHELL task to HTTP and back; the request is dropped with the kind', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, { input: shellTask() });
    const toHttp = await admin.data(UpdateTaskDocument, {
      id: createTask.id,
      input: { kind: 'HTTP', command: '', httpRequest: { url: 'https://example.com/' } },
    });
    expect(toHttp.updateTask).toMatchObject({
      kind: 'HTTP',
      command: '',
      httpRequest: { method: 'GET', url: 'https://example.com/' },
    });
    // An HTTP task's request is replaced as a whole.
    const replaced = await admin.data(UpdateTaskDocument, {
      id: createTask.id,
      input: { httpRequest: { method: 'DELETE', url: 'https://example.com/cache' } },
    });
    expect(replaced.updateTask.httpRequest).toEqual({
      method: 'DELETE',
      url: 'https://example.com/cache',
      headers: [],
      body: null,
      expectedStatusCodes: any2xx,
    });
    const toShell = await admin.data(UpdateTaskDocument, {
      id: createTask.id,
      input: { kind: 'SHELL', command: 'curl -X DELETE https://example.com/cache' },
    });
    expect(toShell.updateTask).toMatchObject({ kind: 'SHELL', httpRequest: null });
    const [row] = await sql(server, 'select http_request from tasks where id = ?', [
      Number(createTask.id),
    ]);
    expect(row!.http_request).toBeNull();
  });

  it('audits the new fields, and an edit elsewhere records no change to them', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: httpTask({
        env: [
          { name: 'Z', value: 'last' },
          { name: 'A', value: 'first' },
        ],
        httpRequest: {
          method: 'POST',
          url: 'https://example.com/hook',
          headers: [
            { name: 'X-Long-Header-Name', value: '1' },
            { name: 'Accept', value: '*/*' },
          ],
          body: 'payload',
          expectedStatusCodes: [201],
        },
        expectedOutput: 'accepted',
      }),
    });
    await admin.data(UpdateTaskDocument, { id: createTask.id, input: { name: 'renamed hook' } });
    await admin.data(UpdateTaskDocument, {
      id: createTask.id,
      input: { env: [{ name: 'A', value: 'changed' }], workingDirectory: '/var/tmp' },
    });
    const [created, renamed, changed] = await auditEntries(server, 'Task', createTask.id);
    // Values that may be secrets are kept as fingerprints: a change shows, the content does not.
    const fingerprint = expect.stringMatching(/^\[REDACTED sha256:[0-9a-f]{12}\]$/);
    expect(created!.changes).toMatchObject({
      env: { before: null, after: { A: fingerprint, Z: fingerprint } },
      httpRequest: {
        before: null,
        after: {
          method: 'POST',
          url: 'https://example.com/hook',
          headers: { Accept: fingerprint, 'X-Long-Header-Name': fingerprint },
          body: fingerprint,
          expectedStatusCodes: [201],
        },
      },
      expectedExitCode: { before: null, after: 0 },
      expectedOutput: { before: null, after: 'accepted' },
    });
    // The JSON columns come back from PostgreSQL with their keys reordered: still no change.
    expect(renamed!.changes).toEqual({
      name: { before: 'health check', after: 'renamed hook' },
    });
    expect(JSON.stringify([created, changed])).not.toMatch(/first|last|payload|changed"/);
    expect(changed!.changes).toEqual({
      env: {
        before: { A: fingerprint, Z: fingerprint },
        after: { A: fingerprint },
      },
      workingDirectory: { before: null, after: '/var/tmp' },
    });
    const env = changed!.changes.env as {
      before: Record<string, string>;
      after: Record<string, string>;
    };
    expect(env.before.A).not.toBe(env.after.A); // the value changed, and the audit shows it
    expect(env.before.A).toBe((created!.changes.env as { after: Record<string, string> }).after.A);
  });

  it('runTask snapshots the new fields; a later edit of the task leaves the run as it was', async () => {
    const { createTask: shell } = await admin.data(CreateTaskDocument, {
      input: shellTask({
        env: [
          { name: 'MODE', value: 'full' },
          { name: 'LEVEL', value: '9' },
        ],
        workingDirectory: '/srv/backups',
        expectedExitCode: 2,
        expectedOutput: 'written',
      }),
    });
    const { createTask: http } = await admin.data(CreateTaskDocument, {
      input: httpTask({
        httpRequest: {
          method: 'PUT',
          url: 'https://example.com/state',
          headers: [{ name: 'If-Match', value: '"v1"' }],
          body: 'on',
          expectedStatusCodes: [200, 412],
        },
      }),
    });
    const shellRun = (await admin.data(RunTaskDocument, { id: shell.id })).runTask;
    const httpRun = (await admin.data(RunTaskDocument, { id: http.id })).runTask;
    expect(shellRun).toMatchObject({
      kind: 'SHELL',
      env: [
        { name: 'LEVEL', value: '9' },
        { name: 'MODE', value: 'full' },
      ],
      workingDirectory: '/srv/backups',
      httpRequest: null,
      expectedExitCode: 2,
      expectedOutput: 'written',
    });
    expect(httpRun).toMatchObject({
      kind: 'HTTP',
      command: '',
      env: [],
      workingDirectory: null,
      httpRequest: http.httpRequest,
      expectedExitCode: 0,
      expectedOutput: null,
    });

    await admin.data(UpdateTaskDocument, {
      id: shell.id,
      input: {
        env: [{ name: 'MODE', value: 'incremental' }],
        workingDirectory: null,
        expectedExitCode: 0,
        expectedOutput: null,
      },
    });
    await admin.data(UpdateTaskDocument, {
      id: http.id,
      input: { httpRequest: { method: 'POST', url: 'https://example.com/other', body: 'off' } },
    });
    for (const run of [shellRun, httpRun]) {
      const { taskInstance } = await admin.data(TaskInstanceDocument, { id: run.id });
      expect(snapshotOf(taskInstance)).toEqual(snapshotOf(run));
    }
  });
});
