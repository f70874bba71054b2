import { ValidationError } from './app-error.js';

/** Trimmed, non-empty, at most `max` characters. */
export function requiredText(field: string, value: string, max: number): string {
  const trimmed = value.trim();
  if (trimmed === '') throw new ValidationError(field, `${field} must not be empty.`);
  if (trimmed.length > max) {
    throw new ValidationError(field, `${field} must be at most ${max} characters.`);
  }
  return trimmed;
}

/** Trimmed, possibly empty, at most `max` characters. */
export function optionalText(field: string, value: string, max: number): string {
  const trimmed = value.trim();
  if (trimmed.length > max) {
    throw new ValidationError(field, `${field} must be at most ${max} characters.`);
  }
  return trimmed;
}

export function integerInRange(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError(
      field,
      `${field} must be an integer from ${min} to ${max}; got ${value}.`,
    );
  }
  return value;
}

/** GraphQL IDs of definitions are positive integers in a string. */
export function parseId(field: string, value: string | number): number {
  const id = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(id) || id <= 0 || (typeof value === 'string' && !/^\d+$/.test(value))) {
    throw new ValidationError(field, `${field} must be a positive integer id; got "${value}".`);
  }
  return id;
}

/** Ids of task instances are 64-bit snowflakes in a string. */
export function parseBigId(field: string, value: string): string {
  if (!/^\d{1,19}$/.test(value) || BigInt(value) > 9223372036854775807n || BigInt(value) <= 0n) {
    throw new ValidationError(
      field,
      `${field} must be a positive 64-bit integer id; got "${value}".`,
    );
  }
  return value;
}

/** Applies `parse` to `value` only when the caller gave it (GraphQL omitted vs null). */
export function ifGiven<T, R>(value: T | undefined, parse: (value: T) => R): R | undefined {
  return value === undefined ? undefined : parse(value);
}

/** The value was given: neither omitted nor null (for "omitted or null means unchanged"). */
export function isGiven<T>(value: T | null | undefined): value is T {
  return value !== null && value !== undefined;
}

/** An ILIKE pattern matching `text` anywhere, with the wildcard characters in it escaped. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
