import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type GraphQLFormattedError } from 'graphql';

export interface GraphqlResult<TData> {
  data?: TData | null;
  errors?: GraphQLFormattedError[];
}

/** Variables may be left out when every one of them is optional. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- `{}` is the "all optional" test.
export type VariablesArg<T> = {} extends T ? [variables?: T] : [variables: T];

/** A GraphQL-over-HTTP client for tests: real HTTP, typed by the generated documents. */
export class GraphqlClient {
  constructor(
    readonly url: string,
    readonly token: string | null = null,
  ) {}

  withToken(token: string | null): GraphqlClient {
    return new GraphqlClient(this.url, token);
  }

  async execute<TData, TVariables>(
    document: TypedDocumentNode<TData, TVariables>,
    ...[variables]: VariablesArg<TVariables>
  ): Promise<GraphqlResult<TData>> {
    return this.raw(print(document), variables as Record<string, unknown> | undefined) as Promise<
      GraphqlResult<TData>
    >;
  }

  /** Data, or a thrown error naming the GraphQL errors. */
  async data<TData, TVariables>(
    document: TypedDocumentNode<TData, TVariables>,
    ...variables: VariablesArg<TVariables>
  ): Promise<TData> {
    const result = await this.execute(document, ...variables);
    if (result.errors?.length || !result.data) {
      throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
    }
    return result.data;
  }

  /** The first error's `extensions.code`, asserting that the operation failed. */
  async errorCode<TData, TVariables>(
    document: TypedDocumentNode<TData, TVariables>,
    ...variables: VariablesArg<TVariables>
  ): Promise<string> {
    const error = await this.error(document, ...variables);
    return String(error.extensions?.code);
  }

  async error<TData, TVariables>(
    document: TypedDocumentNode<TData, TVariables>,
    ...variables: VariablesArg<TVariables>
  ): Promise<GraphQLFormattedError> {
    const result = await this.execute(document, ...variables);
    const first = result.errors?.[0];
    if (!first) throw new Error(`expected an error, got ${JSON.stringify(result.data)}`);
    return first;
  }

  async raw(
    query: string,
    variables?: Record<string, unknown>,
    headers: Record<string, string> = {},
  ): Promise<GraphqlResult<unknown>> {
    const response = await fetch(this.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...headers,
      },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as GraphqlResult<unknown>;
  }
}
