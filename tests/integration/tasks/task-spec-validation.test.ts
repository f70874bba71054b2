import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateTaskDocument,
  TaskDocument,
  UpdateTaskDocument,
  type CreateTaskInput,
  type HttpRequestInput,
  type UpdateTaskInput,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { validHttpRequest } from '../../../src/tasks/task-spec.validation.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { auditEntries, httpTask, shellTask, sql } from './fixtures.js';

const url = 'https://example.com/hook';

/** An HTTP task whose request differs from the fixture's by `request`. */
const withRequest = (request: Partial<HttpRequestInput>): Partial<CreateTaskInput> => ({
  kind: 'HTTP',
  command: '',
  httpRequest: { url, ...request },
});

const variables = (count: number) =>
  Array.from({ length: count }, (_, index) => ({ name: `VAR_${index}`, value: 'x' }));
const headers = (count: number) =>
  Array.from({ length: count }, (_, index) => ({ name: `X-Header-${index}`, value: 'x' }));

describe('task spec validation: env, working directory, HTTP request, expectations', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  const taskCount = async (): Promise<number> =>
    Number((await sql<{ count: string }>(server, 'select count(*) from tasks'))[0]!.count);

  it.each<[string, Partial<CreateTaskInput>, string, RegExp]>([
    [
      'an env name starting with a digit',
      { env: [{ name: '1X', value: '' }] },
      'env[0].name',
      /POSIX/,
    ],
    [
      'an env name with a dash',
      { env: [...variables(2), { name: 'MY-VAR', value: '' }] },
      'env[2].name',
      /POSIX .* got "MY-VAR"/,
    ],
    ['an empty env name', { env: [{ name: '', value: 'x' }] }, 'env[0].name', /POSIX/],
    [
      'an env name given twice',
      { env: [{ name: 'PATH', value: '/bin' }, ...variables(1), { name: 'PATH', value: '/x' }] },
      'env[2].name',
      /PATH a second time/,
    ],
    ['101 env variables', { env: variables(101) }, 'env', /101 variables; at most 100/],
    [
      'an env value over 32 KiB',
      { env: [{ name: 'BIG', value: 'v'.repeat(32 * 1024 + 1) }] },
      'env[0].value',
      /32768 bytes .* got 32769/,
    ],
    [
      'an env value over 32 KiB in UTF-8 bytes',
      { env: [{ name: 'BIG', value: 'é'.repeat(16 * 1024 + 1) }] },
      'env[0].value',
      /got 32770/,
    ],
    ['an env value with NUL', { env: [{ name: 'N', value: 'a\u0000b' }] }, 'env[0].value', /NUL/],
    [
      'a relative working directory',
      { workingDirectory: 'srv/app' },
      'workingDirectory',
      /absolute path/,
    ],
    ['an empty working directory', { workingDirectory: '' }, 'workingDirectory', /null/],
    [
      'a working directory over 4096',
      { workingDirectory: `/${'d'.repeat(4096)}` },
      'workingDirectory',
      /4096/,
    ],
    [
      'a SHELL task with an HTTP request',
      { httpRequest: { url } },
      'httpRequest',
      /absent unless kind is HTTP/,
    ],
    [
      'an HTTP task without a request',
      { kind: 'HTTP', command: '' },
      'httpRequest',
      /required with kind HTTP/,
    ],
    [
      'method TRACE',
      withRequest({ method: 'TRACE' }),
      'httpRequest.method',
      /one of GET, POST, PUT, PATCH, DELETE, HEAD/,
    ],
    [
      'an ftp URL',
      withRequest({ url: 'ftp://example.com/file' }),
      'httpRequest.url',
      /absolute http or https URL/,
    ],
    [
      'a URL without a scheme',
      withRequest({ url: 'example.com/health' }),
      'httpRequest.url',
      /absolute/,
    ],
    ['a URL without a host', withRequest({ url: 'http://' }), 'httpRequest.url', /absolute/],
    [
      'a scheme-relative URL',
      withRequest({ url: '//example.com/' }),
      'httpRequest.url',
      /absolute/,
    ],
    [
      'a URL over 8192 characters',
      withRequest({ url: `https://example.com/${'p'.repeat(8192)}` }),
      'httpRequest.url',
      /at most 8192/,
    ],
    [
      'a header name with a space',
      withRequest({
        headers: [
          { name: 'Accept', value: '*/*' },
          { name: 'Bad Name', value: 'x' },
        ],
      }),
      'httpRequest.headers[1].name',
      /RFC 7230 token/,
    ],
    [
      'an empty header name',
      withRequest({ headers: [{ name: '', value: 'x' }] }),
      'httpRequest.headers[0].name',
      /token/,
    ],
    [
      'a header given twice in different case',
      withRequest({
        headers: [
          { name: 'Accept', value: 'a' },
          { name: 'accept', value: 'b' },
        ],
      }),
      'httpRequest.headers[1].name',
      /case-insensitive/,
    ],
    [
      'a header value with a line break',
      withRequest({ headers: [{ name: 'X-Evil', value: 'a\r\nHost: other' }] }),
      'httpRequest.headers[0].value',
      /line breaks/,
    ],
    [
      '51 headers',
      withRequest({ headers: headers(51) }),
      'httpRequest.headers',
      /51 headers; at most 50/,
    ],
    ['a body with GET', withRequest({ body: 'x' }), 'httpRequest.body', /absent with method GET/],
    [
      'a body with HEAD',
      withRequest({ method: 'head', body: 'x' }),
      'httpRequest.body',
      /method HEAD/,
    ],
    [
      'status 99',
      withRequest({ expectedStatusCodes: [200, 99] }),
      'httpRequest.expectedStatusCodes[1]',
      /100 to 599; got 99/,
    ],
    [
      'status 600',
      withRequest({ expectedStatusCodes: [600] }),
      'httpRequest.expectedStatusCodes[0]',
      /100 to 599/,
    ],
    [
      'a status given twice',
      withRequest({ expectedStatusCodes: [200, 204, 200] }),
      'httpRequest.expectedStatusCodes[2]',
      /200 a second time/,
    ],
    [
      'no statuses',
      withRequest({ expectedStatusCodes: [] }),
      'httpRequest.expectedStatusCodes',
      /at least one/,
    ],
    ['expectedExitCode 256', { expectedExitCode: 256 }, 'expectedExitCode', /0 to 255; got 256/],
    ['expectedExitCode -1', { expectedExitCode: -1 }, 'expectedExitCode', /0 to 255/],
    ['expectedOutput over 4096', { expectedOutput: 'o'.repeat(4097) }, 'expectedOutput', /4096/],
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

  it('accepts the limits themselves', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: httpTask({
        env: [
          ...variables(98),
          { name: '_private', value: '' },
          { name: 'BIG', value: 'v'.repeat(32 * 1024) },
        ],
        workingDirectory: `/${'d'.repeat(4095)}`,
        httpRequest: {
          method: 'patch',
          url: `https://example.com/${'p'.repeat(8192 - 'https://example.com/'.length)}`,
          headers: headers(50),
          // The HTTP layer takes requests of at most 1 MiB, so the largest body is tested below.
          body: 'b'.repeat(512 * 1024),
          expectedStatusCodes: [100, 599],
        },
        expectedExitCode: 255,
        expectedOutput: 'o'.repeat(4096),
      }),
    });
    expect(createTask.env).toHaveLength(100);
    expect(createTask.httpRequest).toMatchObject({
      method: 'PATCH',
      expectedStatusCodes: [100, 599],
    });
    expect(createTask.httpRequest!.headers).toHaveLength(50);
  });

  it('refuses a body over 1 MiB (UTF-8 bytes)', () => {
    // Not through the API: a GraphQL request carrying such a body is itself over the HTTP
    // layer's 1 MiB limit and is refused before validation.
    const request = { method: 'POST', url, body: 'é'.repeat(512 * 1024 + 1) };
    expect(() => validHttpRequest('input.httpRequest', request)).toThrow(
      expect.objectContaining({
        field: 'input.httpRequest.body',
        message: expect.stringMatching(/1048576 bytes/),
      }),
    );
    const largest = { method: 'POST', url, body: 'b'.repeat(1024 * 1024) };
    expect(validHttpRequest('input.httpRequest', largest).body).toHaveLength(1024 * 1024);
  });

  it('validates updates with the same rules and paths', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, { input: shellTask() });
    const env = await admin.error(UpdateTaskDocument, {
      id: createTask.id,
      input: {
        env: [
          { name: 'OK', value: '' },
          { name: 'not ok', value: '' },
        ],
      },
    });
    expect(env.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.env[1].name' });
    const exitCode = await admin.error(UpdateTaskDocument, {
      id: createTask.id,
      input: { expectedExitCode: 300 },
    });
    expect(exitCode.extensions).toMatchObject({ field: 'input.expectedExitCode' });
  });

  it('refuses an update whose resulting task is inconsistent, and changes nothing', async () => {
    const shell = (
      await admin.data(CreateTaskDocument, {
        input: shellTask({ env: [{ name: 'KEEP', value: 'me' }], workingDirectory: '/srv' }),
      })
    ).createTask;
    const http = (
      await admin.data(CreateTaskDocument, {
        input: httpTask({
          httpRequest: {
            method: 'POST',
            url,
            body: 'payload',
            headers: [{ name: 'A', value: 'b' }],
          },
        }),
      })
    ).createTask;
    const attempts: [string, UpdateTaskInput, string, RegExp][] = [
      [shell.id, { kind: 'HTTP' }, 'input.httpRequest', /required with kind HTTP/],
      [shell.id, { httpRequest: { url } }, 'input.httpRequest', /absent unless kind is HTTP/],
      [shell.id, { command: '  ' }, 'input.command', /blank/],
      [
        shell.id,
        { name: 'renamed', workingDirectory: 'relative' },
        'input.workingDirectory',
        /absolute/,
      ],
      [shell.id, { name: 'renamed', env: variables(101) }, 'input.env', /at most 100/],
      [http.id, { httpRequest: null }, 'input.httpRequest', /required with kind HTTP/],
      // Its command is empty, which SHELL does not allow.
      [http.id, { kind: 'SHELL' }, 'input.command', /blank with kind SHELL/],
      [http.id, { httpRequest: { url, body: 'payload' } }, 'input.httpRequest.body', /GET/],
      [
        http.id,
        { name: 'renamed', expectedOutput: 'o'.repeat(4097) },
        'input.expectedOutput',
        /4096/,
      ],
    ];
    for (const [id, input, field, message] of attempts) {
      const error = await admin.error(UpdateTaskDocument, { id, input });
      expect(error.extensions, JSON.stringify(input)).toMatchObject({
        code: 'BAD_USER_INPUT',
        field,
      });
      expect(error.message).toMatch(message);
    }
    expect((await admin.data(TaskDocument, { id: shell.id })).task).toEqual(shell);
    expect((await admin.data(TaskDocument, { id: http.id })).task).toEqual(http);
    for (const { id } of [shell, http]) {
      const actions = (await auditEntries(server, 'Task', id)).map((entry) => entry.action);
      expect(actions).toEqual(['createTask']);
    }
  });
});
