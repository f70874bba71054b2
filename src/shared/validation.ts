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

/** Text PostgreSQL can store as given: no U+0000, and no lone surrogate (not UTF-8). */
export function storableText(field: string, value: string): string {
  const problem = textProblem(value);
  if (problem) throw new ValidationError(field, `${field} ${problem}.`);
  return value;
}

/** Why `value` cannot be stored as text, or null (for callers that refuse in their own words). */
export function textProblem(value: string): string | null {
  if (value.includes('\u0000')) return 'must not contain the NUL character (U+0000)';
  // With the `u` flag a surrogate pair is one code point; only a lone half matches.
  if (/\p{Surrogate}/u.test(value)) {
    return 'is not well-formed Unicode: it holds half of a surrogate pair (U+D800 to U+DFFF)';
  }
  return null;
}

const earliestInstant = Date.UTC(1970, 0, 1);
const latestInstant = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * An instant from 1970 to 9999 (UTC): earlier or later means nothing to a scheduler, and year 0
 * (valid RFC 3339) is outside what PostgreSQL stores as written.
 */
export function validInstant(field: string, value: Date): Date {
  const time = value.getTime();
  if (!(time >= earliestInstant && time <= latestInstant)) {
    const given = Number.isNaN(time) ? 'an invalid date' : value.toISOString();
    throw new ValidationError(
      field,
      `${field} must be an instant from 1970-01-01 to 9999-12-31 (UTC); got ${given}.`,
    );
  }
  return value;
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
