import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcknowledgeAssignmentDocument } from '../../../../executor/generated/graphql.js';
import {
  createGraphqlHttpClient,
  GraphqlRequestError,
} from '../../../../executor/transport/graphql-http-client.js';
import {
  readBody,
  startLocalHttpServer,
  type LocalHttpServer,
} from '../helpers/local-http-server.js';

/** Each path answers one way; the client posts to it as if it were /graphql. */
const answers: Record<string, { status: number; body: string }> = {
  '/ok': { status: 200, body: '{"data":{"acknowledgeAssignment":true}}' },
  '/conflict': {
    status: 200,
    body: '{"errors":[{"message":"superseded","extensions":{"code":"CONFLICT"}}],"data":null}',
  },
  '/unauthenticated': {
    status: 200,
    body: '{"errors":[{"message":"replay","extensions":{"code":"UNAUTHENTICATED"}}],"data":null}',
  },
  '/invalid': {
    status: 400,
    body: '{"errors":[{"message":"bad","extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}',
  },
  '/unavailable': { status: 503, body: 'try later' },
  '/too-large': { status: 413, body: 'request entity too large' },
};

describe('GraphQL over HTTP client', () => {
  let server: LocalHttpServer;
  const authorizations: (string | undefined)[] = [];
  beforeAll(async () => {
    server = await startLocalHttpServer((request, response) => {
      void readBody(request).then(() => {
        authorizations.push(request.headers.authorization);
        const answer = answers[request.url ?? ''] ?? { status: 404, body: '' };
        response.writeHead(answer.status, { 'content-type': 'application/json' });
        response.end(answer.body);
      });
    });
  });
  afterAll(() => server.stop());

  async function failureAt(pathname: string): Promise<GraphqlRequestError> {
    const client = createGraphqlHttpClient({ url: `${server.origin}${pathname}` });
    const error = await client
      .request(AcknowledgeAssignmentDocument, { instanceId: '1', attempt: 1 })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(GraphqlRequestError);
    return error as GraphqlRequestError;
  }

  it('returns data and sends a new bearer token per request', async () => {
    let count = 0;
    const client = createGraphqlHttpClient({
      url: `${server.origin}/ok`,
      signToken: async () => `token-${++count}`,
    });
    const variables = { instanceId: '1', attempt: 1 };
    expect(await client.request(AcknowledgeAssignmentDocument, variables)).toEqual({
      acknowledgeAssignment: true,
    });
    await client.request(AcknowledgeAssignmentDocument, variables);
    expect(authorizations.slice(-2)).toEqual(['Bearer token-1', 'Bearer token-2']);
  });

  it('classifies what can never succeed as rejected', async () => {
    expect(await failureAt('/conflict')).toMatchObject({ kind: 'rejected', code: 'CONFLICT' });
    expect(await failureAt('/invalid')).toMatchObject({
      kind: 'rejected',
      code: 'GRAPHQL_VALIDATION_FAILED',
    });
    expect(await failureAt('/too-large')).toMatchObject({ kind: 'rejected', code: 'HTTP_413' });
  });

  it('classifies what may succeed later as retryable', async () => {
    expect(await failureAt('/unauthenticated')).toMatchObject({
      kind: 'retryable',
      code: 'UNAUTHENTICATED',
    });
    expect(await failureAt('/unavailable')).toMatchObject({ kind: 'retryable', code: 'HTTP_503' });
    const closed = await startLocalHttpServer(() => undefined);
    await closed.stop();
    const client = createGraphqlHttpClient({ url: `${closed.origin}/graphql` });
    await expect(
      client.request(AcknowledgeAssignmentDocument, { instanceId: '1', attempt: 1 }),
    ).rejects.toMatchObject({ kind: 'retryable', code: 'NETWORK' });
  });
});
