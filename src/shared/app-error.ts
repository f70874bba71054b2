/**
 * Domain errors. Services throw these; `server/format-error.ts` is the one place that turns them
 * into GraphQL errors with `extensions.code`. Never branch on `message`: branch on the class.
 */
export type AppErrorCode =
  'BAD_USER_INPUT' | 'UNAUTHENTICATED' | 'FORBIDDEN' | 'NOT_FOUND' | 'CONFLICT';

export abstract class AppError extends Error {
  abstract readonly code: AppErrorCode;
  /** Extra, safe-to-show facts for `extensions` (never secrets). */
  readonly details: Record<string, unknown>;

  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }
}

/** The input is wrong; `field` names the offending input field (dotted path). */
export class ValidationError extends AppError {
  readonly code = 'BAD_USER_INPUT';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message, { field });
  }
}

export class UnauthenticatedError extends AppError {
  readonly code = 'UNAUTHENTICATED';
}

export class ForbiddenError extends AppError {
  readonly code = 'FORBIDDEN';
}

export class NotFoundError extends AppError {
  readonly code = 'NOT_FOUND';
  /** `field` names the input field that referred to it, when there is one. */
  constructor(entity: string, id: string | number, field?: string) {
    super(
      field
        ? `${field} names ${entity} ${id}, which does not exist.`
        : `${entity} ${id} does not exist.`,
      { entity, id: String(id), ...(field ? { field } : {}) },
    );
  }
}

export class ConflictError extends AppError {
  readonly code = 'CONFLICT';
}

/** Too many failed attempts; the client may retry after `retryAfterSeconds`. */
export class RateLimitedError extends AppError {
  readonly code = 'UNAUTHENTICATED';
  constructor(message: string, retryAfterSeconds: number) {
    super(message, { retryAfterSeconds });
  }
}
