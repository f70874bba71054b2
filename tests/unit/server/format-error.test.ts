import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { createFormatError } from '../../../src/server/format-error.js';
import { ConflictError, ValidationError } from '../../../src/shared/app-error.js';

const formatError = createFormatError();

function asResolverError(original: Error): GraphQLError {
  return new GraphQLError(original.message, { path: ['field'], originalError: original });
}

describe('format-error', () => {
  it('keeps domain errors with their code and details', () => {
    const formatted = formatError(
      { message: 'x' },
      asResolverError(new ValidationError('input.host', 'bad host')),
    );
    expect(formatted).toMatchObject({
      message: 'bad host',
      extensions: { code: 'BAD_USER_INPUT', field: 'input.host' },
    });
    expect(
      formatError({ message: 'x' }, asResolverError(new ConflictError('taken'))).extensions?.code,
    ).toBe('CONFLICT');
  });

  it('hides unexpected errors behind INTERNAL_SERVER_ERROR with no internals', () => {
    const leak = new Error(
      'connection to 10.0.0.5 refused: password authentication failed for "postgres"',
    );
    const formatted = formatError(
      {
        message: leak.message,
        extensions: { code: 'INTERNAL_SERVER_ERROR', stacktrace: ['at secret.ts'] },
      },
      asResolverError(leak),
    );
    expect(formatted.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
    expect(JSON.stringify(formatted)).not.toMatch(/10\.0\.0\.5|postgres|secret/);
  });
});
