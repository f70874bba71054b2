import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateTaskDocument,
  RunTaskWithOverridesDocument,
  TaskDocument,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';

describe('runTask with overrides', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer({ GRAPHCRON_CRON_TICKER: '0' });
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  it('adds env and quoted arguments to this run only', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: {
        name: 'greeter',
        command: 'printf "%s|" "$GREETING"',
        env: [{ name: 'GREETING', value: 'hello' }],
        maxParallelRuns: 5,
      },
    });
    const { runTask } = await admin.data(RunTaskWithOverridesDocument, {
      id: createTask.id,
      overrides: {
        env: [
          { name: 'GREETING', value: 'bonjour' },
          { name: 'EXTRA', value: '1' },
        ],
        arguments: ["it's", 'a b'],
      },
    });
    expect(runTask.command).toBe(`printf "%s|" "$GREETING" 'it'\\''s' 'a b'`);
    expect(runTask.env).toEqual([
      { name: 'EXTRA', value: '1' },
      { name: 'GREETING', value: 'bonjour' },
    ]);
    const { task } = await admin.data(TaskDocument, { id: createTask.id });
    expect(task.command).toBe('printf "%s|" "$GREETING"');
    expect(task.env).toEqual([{ name: 'GREETING', value: 'hello' }]);
  });

  it('validates overrides and names the field', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: { name: 'plain', command: 'true', maxParallelRuns: 5 },
    });
    const badName = await admin.error(RunTaskWithOverridesDocument, {
      id: createTask.id,
      overrides: { env: [{ name: '1BAD', value: 'x' }] },
    });
    expect(badName.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'overrides.env[0].name',
    });
    const nul = await admin.error(RunTaskWithOverridesDocument, {
      id: createTask.id,
      overrides: { arguments: ['ok', 'a\u0000b'] },
    });
    expect(nul.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'overrides.arguments[1]',
    });
    const { createTask: http } = await admin.data(CreateTaskDocument, {
      input: {
        name: 'hook',
        kind: 'HTTP',
        command: '',
        httpRequest: { url: 'http://127.0.0.1:9/x' },
      },
    });
    const args = await admin.error(RunTaskWithOverridesDocument, {
      id: http.id,
      overrides: { arguments: ['x'] },
    });
    expect(args.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'overrides.arguments' });
  });
});
