import { EventEmitter, once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpAssignment } from '../helpers/assignments.js';
import {
  readBody,
  startLocalHttpServer,
  type LocalHttpServer,
} from '../helpers/local-http-server.js';
import { observeRun } from './run-helpers.js';

interface SeenRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

describe('http runner', () => {
  let server: LocalHttpServer;
  const seen: SeenRequest[] = [];
  const arrivals = new EventEmitter();

  beforeAll(async () => {
    server = await startLocalHttpServer((request, response) => {
      void readBody(request).then((body) => {
        seen.push({
          method: request.method ?? '',
          url: request.url ?? '',
          headers: request.headers,
          body,
        });
        arrivals.emit(request.url ?? '');
        if (request.url === '/ok') {
          response.writeHead(200, { 'content-type': 'text/plain' });
          response.end('all good');
        } else if (request.url === '/broken') {
          response.writeHead(500);
          response.end('database on fire');
        } else if (request.url === '/slow-body') {
          // Headers now, the body never: the timeout must also cover reading the body.
          response.writeHead(200);
          response.write('partial ');
        }
        // Any other path never answers.
      });
    });
  });
  afterAll(() => server.stop());

  it('makes the request and finishes on an expected status, the body as output', async () => {
    const run = observeRun(
      httpAssignment(`${server.origin}/ok`, {
        method: 'POST',
        headers: [{ name: 'x-token', value: 'abc' }],
        body: '{"ping":true}',
      }),
    );
    expect(await run.outcome).toEqual({
      status: 'FINISHED',
      exitCode: 200,
      statusReason: null,
      result: 'HTTP 200\nall good',
    });
    expect(run.output('STDOUT')).toBe('all good');
    expect(seen.find((request) => request.url === '/ok')).toMatchObject({
      method: 'POST',
      headers: { 'x-token': 'abc' },
      body: '{"ping":true}',
    });
  });

  it('ends ABNORMAL_ENDING on an unexpected status, with the status as exit code', async () => {
    const outcome = await observeRun(httpAssignment(`${server.origin}/broken`)).outcome;
    expect(outcome).toEqual({
      status: 'ABNORMAL_ENDING',
      exitCode: 500,
      statusReason: 'HTTP status 500, expected 200',
      result: 'HTTP 500\ndatabase on fire',
    });
    const accepted = await observeRun(
      httpAssignment(`${server.origin}/broken`, { expectedStatusCodes: [200, 500] }),
    ).outcome;
    expect(accepted.status).toBe('FINISHED');
  });

  it('checks the expected output in the body', async () => {
    const outcome = await observeRun(
      httpAssignment(`${server.origin}/ok`, {}, { expectedOutput: 'bad' }),
    ).outcome;
    expect(outcome.status).toBe('ABNORMAL_ENDING');
    expect(outcome.statusReason).toContain('"bad"');
  });

  it('times out a request that never answers', async () => {
    const outcome = await observeRun(
      httpAssignment(`${server.origin}/hang`, {}, { timeoutSeconds: 1 }),
    ).outcome;
    expect(outcome).toEqual({
      status: 'TIMEOUT_ENDING',
      exitCode: null,
      statusReason: 'timed out after 1 s',
      result: null,
    });
  });

  it('times out while reading a body that never ends, keeping what came', async () => {
    const run = observeRun(httpAssignment(`${server.origin}/slow-body`, {}, { timeoutSeconds: 1 }));
    expect(await run.outcome).toMatchObject({
      status: 'TIMEOUT_ENDING',
      exitCode: 200,
      result: 'HTTP 200\npartial ',
    });
    expect(run.output()).toBe('partial ');
  });

  it('cancels a request in flight', async () => {
    const arrived = once(arrivals, '/hang?cancel');
    const run = observeRun(httpAssignment(`${server.origin}/hang?cancel`));
    await arrived;
    run.handle.cancel('cancelled by bob');
    expect(await run.outcome).toMatchObject({
      status: 'MANUAL_CANCELLATION',
      statusReason: 'cancelled by bob',
    });
  });

  it('reports a network failure', async () => {
    const closed = await startLocalHttpServer(() => undefined);
    await closed.stop();
    const outcome = await observeRun(httpAssignment(`${closed.origin}/`)).outcome;
    expect(outcome.status).toBe('ABNORMAL_ENDING');
    expect(outcome.exitCode).toBeNull();
    expect(outcome.statusReason).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/ failed: .*ECONNREFUSED/);
  });
});
