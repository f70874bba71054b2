import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type DocumentNode } from 'graphql';
import type { TokenSigner } from '../auth/executor-token.js';

/**
 * `retryable`: the server may accept the same request later (network, 5xx, INTERNAL_SERVER_ERROR,
 * UNAUTHENTICATED). `rejected`: it never will (CONFLICT for a superseded attempt, BAD_USER_INPUT,
 * NOT_FOUND, FORBIDDEN, a malformed request).
 */
export type GraphqlFailureKind = 'retryable' | 'rejected';

/** Codes after which sending the same request again cannot succeed. */
const rejectedCodes = new Set([
  'CONFLICT',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'FORBIDDEN',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
]);

export class GraphqlRequestError extends Error {
  constructor(
    message: string,
    readonly kind: GraphqlFailureKind,
    /** `extensions.code` of the first GraphQL error, or NETWORK / HTTP_<status>. */
    readonly code: string,
  ) {
    super(message);
    this.name = 'GraphqlRequestError';
  }
}

/** How a GraphQL error with this `extensions.code` is to be treated. */
export function failureKindOfCode(code: string): GraphqlFailureKind {
  return rejectedCodes.has(code) ? 'rejected' : 'retryable';
}

/** A GraphQL transport (HTTP, or the executor's WebSocket). */
export interface GraphqlHttpClient {
  request<Result, Variables extends Record<string, unknown>>(
    document: TypedDocumentNode<Result, Variables>,
    variables: Variables,
  ): Promise<Result>;
}

export interface GraphqlHttpClientOptions {
  /** `http(s)://host:port/graphql`. */
  url: string;
  /** Signs a fresh token per request; omitted for `registerExecutor` (no auth header). */
  signToken?: TokenSigner;
  /** A request that takes longer is abandoned as a network failure. Default 30 000. */
  timeoutMs?: number;
}

interface GraphqlResponseBody {
  data?: unknown;
  errors?: { message?: string; extensions?: { code?: unknown } }[];
}

const printedDocuments = new WeakMap<DocumentNode, string>();

export function printOnce(document: DocumentNode): string {
  let text = printedDocuments.get(document);
  if (text === undefined) {
    text = print(document);
    printedDocuments.set(document, text);
  }
  return text;
}

function failureForStatus(status: number): GraphqlFailureKind {
  return status >= 500 || status === 401 || status === 408 || status === 429
    ? 'retryable'
    : 'rejected';
}

/** POSTs GraphQL operations as JSON; every failure comes out as a classified GraphqlRequestError. */
export function createGraphqlHttpClient(options: GraphqlHttpClientOptions): GraphqlHttpClient {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return {
    async request<Result, Variables extends Record<string, unknown>>(
      document: TypedDocumentNode<Result, Variables>,
      variables: Variables,
    ): Promise<Result> {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      let response: Response;
      let body: GraphqlResponseBody | undefined;
      try {
        if (options.signToken) headers.authorization = `Bearer ${await options.signToken()}`;
        response = await fetch(options.url, {
          method: 'POST',
          headers,
          body: JSON.stringify({ query: printOnce(document), variables }),
          signal: AbortSignal.timeout(timeoutMs),
        });
        const text = await response.text();
        try {
          body = JSON.parse(text) as GraphqlResponseBody;
        } catch {
          body = undefined;
        }
      } catch (error) {
        const reason = error instanceof Error ? (error.cause ?? error) : error;
        throw new GraphqlRequestError(
          `cannot reach ${options.url}: ${reason instanceof Error ? reason.message : String(reason)}`,
          'retryable',
          'NETWORK',
        );
      }
      const firstError = body?.errors?.[0];
      if (firstError) {
        const code =
          typeof firstError.extensions?.code === 'string' ? firstError.extensions.code : undefined;
        const kind = code ? failureKindOfCode(code) : failureForStatus(response.status);
        throw new GraphqlRequestError(
          firstError.message ?? 'GraphQL error',
          kind,
          code ?? `HTTP_${response.status}`,
        );
      }
      if (!response.ok || body?.data === undefined || body.data === null) {
        throw new GraphqlRequestError(
          `the server answered HTTP ${response.status} without data`,
          response.ok ? 'retryable' : failureForStatus(response.status),
          `HTTP_${response.status}`,
        );
      }
      return body.data as Result;
    },
  };
}
