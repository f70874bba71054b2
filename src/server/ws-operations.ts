import type { GraphQLFormattedError } from 'graphql';
import {
  GraphQLError,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type GraphQLSchema,
} from 'graphql';
import type { ServerOptions, SubscribePayload } from 'graphql-ws';
import { BoundedMap } from '../shared/bounded-map.js';
import type { Logger } from '../shared/logger.js';
import type { RequestContext } from './context.js';
import { createFormatError, isExpectedError } from './format-error.js';
import { depthLimitRule } from './query-limits.js';

/** Valid documents remembered, and the longest text remembered. */
const maxRememberedDocuments = 200;
const maxRememberedDocumentLength = 10_000;

export interface OperationLimits {
  maxDepth: number;
  maxTokens: number;
}

/**
 * graphql-ws's `onSubscribe`: a WebSocket operation is parsed and validated under the limits an
 * HTTP one is (tokens, depth). A refusal is answered with an `error` message for that operation,
 * coded as Apollo codes it over HTTP, and the socket stays open.
 */
export function limitedOperations(schema: GraphQLSchema, limits: OperationLimits) {
  const rules = [...specifiedRules, depthLimitRule(limits.maxDepth)];
  // Executors send the same few documents over and over (a report batch per call): parsing and
  // validating each again was ~8% of the server's CPU in the throughput bench. Documents that
  // passed are remembered by their text; the oldest is forgotten first.
  const validDocuments = new BoundedMap<string, DocumentNode>(maxRememberedDocuments);
  const documentFor = (text: string): DocumentNode | readonly GraphQLError[] => {
    const known = validDocuments.get(text);
    if (known) return known;
    let document: DocumentNode;
    try {
      document = parse(text, { maxTokens: limits.maxTokens });
    } catch (error) {
      if (error instanceof GraphQLError) return [withCode(error, 'GRAPHQL_PARSE_FAILED')];
      throw error;
    }
    const errors = validate(schema, document, rules);
    if (errors.length > 0) return errors.map((e) => withCode(e, 'GRAPHQL_VALIDATION_FAILED'));
    if (text.length <= maxRememberedDocumentLength) validDocuments.set(text, document);
    return document;
  };
  return (
    _ctx: unknown,
    _id: string,
    payload: SubscribePayload,
  ): ExecutionArgs | readonly GraphQLError[] => {
    const document = documentFor(payload.query);
    if (!('kind' in document)) return document;
    return {
      schema,
      document,
      operationName: payload.operationName,
      variableValues: payload.variables,
    };
  };
}

/**
 * graphql-ws's `onNext` and `onError`: errors sent over a WebSocket are shaped by the same
 * formatError as over HTTP (a code; nothing internal), and unexpected ones are logged.
 */
export function formattedErrors(logger: Logger): Pick<ServerOptions, 'onNext' | 'onError'> {
  const format = createFormatError();
  const shown = (error: GraphQLError, requestId: string | undefined): GraphQLFormattedError => {
    // graphql-ws wraps what a subscription's stream throws in a GraphQLError without a path,
    // which Apollo's unwrapping does not look into.
    const original = error.path ? error : (error.originalError ?? error);
    if (!isExpectedError(original)) {
      logger.error('unexpected error in GraphQL operation', {
        requestId,
        path: error.path,
        error: error.originalError ?? error,
      });
    }
    return format(error.toJSON(), original);
  };
  return {
    onNext: (_ctx, _id, _payload, args, result) => {
      if (!result.errors) return;
      // The context this server builds for every WebSocket operation (http-server.ts).
      const requestId = (args.contextValue as Partial<RequestContext> | undefined)?.requestId;
      return { ...result, errors: result.errors.map((error) => shown(error, requestId)) };
    },
    onError: (_ctx, _id, _payload, errors) => errors.map((error) => shown(error, undefined)),
  };
}

function withCode(error: GraphQLError, code: string): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    originalError: error.originalError,
    extensions: { ...error.extensions, code },
  });
}
