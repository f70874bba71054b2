import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';

describe('HTTP surface', () => {
  let server: TestServer;
  let base: URL;
  beforeAll(async () => {
    server = await startTestServer({
      GRAPHCRON_MAX_QUERY_DEPTH: '5',
      GRAPHCRON_MAX_QUERY_TOKENS: '400',
    });
    base = new URL(server.anonymous.url);
  });
  afterAll(() => server?.stop());

  it('answers /healthz and /readyz', async () => {
    const health = await fetch(new URL('/healthz', base));
    expect(health.status).toBe(200);
    const ready = await fetch(new URL('/readyz', base));
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('gives every response a request id', async () => {
    const response = await fetch(base, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(response.headers.get('x-request-id')).toMatch(/^[\w.-]+$/);
  });

  it('refuses queries nested deeper than the limit', async () => {
    const admin = await server.asAdmin();
    const deep = '{ __schema { types { fields { type { ofType { ofType { name } } } } } } }';
    const result = await admin.raw(deep);
    expect(result.errors?.[0]?.message).toMatch(/nested 7 levels deep; the limit is 5/);
    expect(result.data).toBeUndefined();
    const shallow = await admin.raw('{ me { username } }');
    expect(shallow.errors).toBeUndefined();
  });

  it('refuses documents larger than the token limit', async () => {
    const admin = await server.asAdmin();
    const huge = `{ ${Array.from({ length: 300 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    const result = await admin.raw(huge);
    expect(result.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(result.errors?.[0]?.message).toMatch(/tokens/);
  });

  it('reports malformed operations and wrong variable types as client errors', async () => {
    const admin = await server.asAdmin();
    expect((await admin.raw('{ me { ')).errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    expect((await admin.raw('{ nope }')).errors?.[0]?.extensions?.code).toBe(
      'GRAPHQL_VALIDATION_FAILED',
    );
    const wrongType = await admin.raw('query($id: ID!) { user(id: $id) { id } }', {
      id: { nested: true },
    });
    expect(wrongType.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
