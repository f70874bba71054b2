import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { AppError } from '../shared/app-error.js';

/** Codes GraphQL itself or Apollo produce for a malformed request; they pass through. */
const requestErrorCodes = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  'BAD_REQUEST',
]);

/**
 * The one place errors become what clients see: domain errors keep their code and message,
 * request errors pass through, and anything else is logged with the request id and hidden.
 */
export function createFormatError() {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (original instanceof AppError) {
      return {
        message: original.message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: { ...original.details, code: original.code },
      };
    }
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && requestErrorCodes.has(code)) {
      return { ...formatted, extensions: { code } };
    }
    if (original instanceof GraphQLError && !original.originalError && !formatted.path) {
      // A request-level failure raised by graphql-js itself (e.g. a depth-limit refusal).
      return {
        message: formatted.message,
        locations: formatted.locations,
        extensions: { code: 'BAD_USER_INPUT' },
      };
    }
    // Logged with the request id by the error-logging plugin; nothing internal leaves here.
    return {
      message: 'Internal server error; the server log has the details under this request id.',
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
}

export function isExpectedError(error: unknown): boolean {
  const original = unwrapResolverError(error);
  if (original instanceof AppError) return true;
  if (original instanceof GraphQLError) {
    const code = original.extensions?.code;
    return (
      (typeof code === 'string' && requestErrorCodes.has(code)) ||
      (!original.originalError && !original.path)
    );
  }
  return false;
}
