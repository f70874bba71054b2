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

  it('keeps a well-formed x-request-id and answers unknown paths with 404', async () => {
    const response = await fetch(base, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'my-trace.42' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(response.headers.get('x-request-id')).toBe('my-trace.42');
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
    const keys = await fetch(new URL('/.well-known/jwks.json', base));
    expect(((await keys.json()) as { keys: unknown[] }).keys.length).toBeGreaterThan(0);
    const missing = await fetch(new URL('/nope', base));
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toMatch(/GraphQL is at \/graphql/);
  });

  it('refuses a body it cannot read with a status and a reason', async () => {
    const post = (body: string | Uint8Array, headers: Record<string, string> = {}) =>
      fetch(base, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
    const reason = async (response: Response) =>
      ((await response.json()) as { errors: { message: string }[] }).errors[0]!.message;

    const malformed = await post('{"query": "{ __typename }"');
    expect(malformed.status).toBe(400);
    expect(await reason(malformed)).toMatch(/not valid JSON/);

    const huge = await post(JSON.stringify({ query: `{ __typename } # ${'x'.repeat(5 << 20)}` }));
    expect(huge.status).toBe(413);
    expect(await reason(huge)).toMatch(/larger than 4194304 bytes/);

    const compressed = await post(new Uint8Array([0x1f, 0x8b]), { 'content-encoding': 'gzip' });
    expect(compressed.status).toBe(415);
    expect(await reason(compressed)).toMatch(/uncompressed/);

    const latin1 = await post('{}', { 'content-type': 'application/json; charset=latin1' });
    expect(latin1.status).toBe(415);

    // Not JSON at all: Apollo's own refusal, a client error.
    const text = await post('{ __typename }', { 'content-type': 'text/plain' });
    expect(text.status).toBe(400);

    // The server still answers on new connections.
    const ok = await post(JSON.stringify({ query: '{ __typename }' }));
    expect(await ok.json()).toEqual({ data: { __typename: 'Query' } });
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
