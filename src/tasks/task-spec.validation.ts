import { ValidationError } from '../shared/app-error.js';
import { integerInRange } from '../shared/validation.js';
import type { EnvironmentMap, HttpRequestSpec } from './task-spec.js';
import type { EnvironmentVariable, HttpHeader, HttpRequestInput } from './task-spec.types.js';

/*
 * Limits on what a run is given. Sizes named in KiB/MiB are UTF-8 bytes; the others are
 * characters.
 */
const maxVariables = 100;
const maxVariableValueBytes = 32 * 1024;
const posixName = /^[A-Za-z_][A-Za-z0-9_]*$/;
const maxWorkingDirectoryLength = 4096;
const maxExpectedOutputLength = 4096;

export const httpMethods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const;
/** Methods whose requests carry no body. */
const bodilessMethods: readonly string[] = ['GET', 'HEAD'];
const maxUrlLength = 8192;
const maxHeaders = 50;
/** RFC 7230 `token`: the characters a header name may have. */
const headerToken = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const maxHeaderValueLength = 8192;
const maxBodyBytes = 1024 * 1024;
/** When an HTTP task names no statuses, any 2xx answer counts as success. */
export const defaultExpectedStatusCodes: readonly number[] = Array.from(
  { length: 100 },
  (_, index) => 200 + index,
);

/** Environment variables as a map; names POSIX and each set once, values bounded. */
export function validEnvironment(
  field: string,
  variables: readonly EnvironmentVariable[],
): EnvironmentMap {
  if (variables.length > maxVariables) {
    throw new ValidationError(
      field,
      `${field} has ${variables.length} variables; at most ${maxVariables} are allowed.`,
    );
  }
  // A Map, then fromEntries: a name such as `__proto__` must become an ordinary key.
  const env = new Map<string, string>();
  variables.forEach(({ name, value }, index) => {
    const at = `${field}[${index}]`;
    if (!posixName.test(name)) {
      throw new ValidationError(
        `${at}.name`,
        `${at}.name must be a POSIX name (letters, digits and _, not starting with a digit); ` +
          `got ${preview(name)}.`,
      );
    }
    if (env.has(name)) {
      throw new ValidationError(
        `${at}.name`,
        `${at}.name sets ${name} a second time; give each variable once.`,
      );
    }
    if (value.includes('\0')) {
      throw new ValidationError(`${at}.value`, `${at}.value must not contain a NUL character.`);
    }
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes > maxVariableValueBytes) {
      throw new ValidationError(
        `${at}.value`,
        `${at}.value must be at most ${maxVariableValueBytes} bytes (32 KiB, UTF-8); got ${bytes}.`,
      );
    }
    env.set(name, value);
  });
  return Object.fromEntries(env);
}

/** An absolute path; kept as given (spaces are legal in paths). */
export function validWorkingDirectory(field: string, value: string): string {
  if (!value.startsWith('/')) {
    throw new ValidationError(
      field,
      `${field} must be an absolute path starting with "/"; got ${preview(value)}. ` +
        "Send null to run in the executor's own directory.",
    );
  }
  if (value.length > maxWorkingDirectoryLength) {
    throw new ValidationError(
      field,
      `${field} must be at most ${maxWorkingDirectoryLength} characters.`,
    );
  }
  if (value.includes('\0')) {
    throw new ValidationError(field, `${field} must not contain a NUL character.`);
  }
  return value;
}

export function validExpectedExitCode(field: string, value: number): number {
  return integerInRange(field, value, 0, 255);
}

/** Text the output must contain; an empty string means no expectation (null). */
export function validExpectedOutput(field: string, value: string): string | null {
  if (value === '') return null;
  if (value.length > maxExpectedOutputLength) {
    throw new ValidationError(
      field,
      `${field} must be at most ${maxExpectedOutputLength} characters; got ${value.length}.`,
    );
  }
  return value;
}

/** The request of an HTTP task, normalised: method upper-cased, statuses sorted. */
export function validHttpRequest(field: string, input: HttpRequestInput): HttpRequestSpec {
  const method = validMethod(`${field}.method`, input.method ?? 'GET');
  const url = validUrl(`${field}.url`, input.url);
  const headers = validHeaders(`${field}.headers`, input.headers ?? []);
  const body = validBody(`${field}.body`, input.body ?? null, method);
  const expectedStatusCodes = validStatusCodes(
    `${field}.expectedStatusCodes`,
    input.expectedStatusCodes ?? defaultExpectedStatusCodes,
  );
  return { method, url, headers, body, expectedStatusCodes };
}

function validMethod(field: string, value: string): string {
  const method = value.trim().toUpperCase();
  if (!(httpMethods as readonly string[]).includes(method)) {
    throw new ValidationError(
      field,
      `${field} must be one of ${httpMethods.join(', ')}; got ${preview(value)}.`,
    );
  }
  return method;
}

/** An absolute http(s) URL, kept as given (trimmed); the executor requests exactly this. */
function validUrl(field: string, value: string): string {
  const url = value.trim();
  if (url.length > maxUrlLength) {
    throw new ValidationError(
      field,
      `${field} must be at most ${maxUrlLength} characters; got ${url.length}.`,
    );
  }
  // The scheme check comes first: the URL parser accepts `http:host` and other shorthands.
  if (!/^https?:\/\//i.test(url) || !URL.canParse(url)) {
    throw new ValidationError(
      field,
      `${field} must be an absolute http or https URL such as https://example.com/health; ` +
        `got ${preview(url)}.`,
    );
  }
  return url;
}

/** Header names are case-insensitive, so `Accept` and `accept` are the same header twice. */
function validHeaders(field: string, headers: readonly HttpHeader[]): Record<string, string> {
  if (headers.length > maxHeaders) {
    throw new ValidationError(
      field,
      `${field} has ${headers.length} headers; at most ${maxHeaders} are allowed.`,
    );
  }
  const byName = new Map<string, string>();
  const seen = new Set<string>();
  headers.forEach(({ name, value }, index) => {
    const at = `${field}[${index}]`;
    if (!headerToken.test(name)) {
      throw new ValidationError(
        `${at}.name`,
        `${at}.name must be an HTTP header name (an RFC 7230 token: letters, digits and ` +
          `!#$%&'*+-.^_\`|~); got ${preview(name)}.`,
      );
    }
    if (seen.has(name.toLowerCase())) {
      throw new ValidationError(
        `${at}.name`,
        `${at}.name sets ${name} a second time (names are case-insensitive); give each ` +
          'header once.',
      );
    }
    // A line break would end the header and start another: request smuggling.
    if (/[\r\n\0]/.test(value)) {
      throw new ValidationError(
        `${at}.value`,
        `${at}.value must not contain line breaks or NUL characters.`,
      );
    }
    if (value.length > maxHeaderValueLength) {
      throw new ValidationError(
        `${at}.value`,
        `${at}.value must be at most ${maxHeaderValueLength} characters; got ${value.length}.`,
      );
    }
    seen.add(name.toLowerCase());
    byName.set(name, value);
  });
  return Object.fromEntries(byName);
}

/** An empty body is no body. */
function validBody(field: string, value: string | null, method: string): string | null {
  if (value === null || value === '') return null;
  if (bodilessMethods.includes(method)) {
    throw new ValidationError(
      field,
      `${field} must be absent with method ${method}; use POST, PUT or PATCH to send a body.`,
    );
  }
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > maxBodyBytes) {
    throw new ValidationError(
      field,
      `${field} must be at most ${maxBodyBytes} bytes (1 MiB, UTF-8); got ${bytes}.`,
    );
  }
  return value;
}

function validStatusCodes(field: string, codes: readonly number[]): number[] {
  if (codes.length === 0) {
    throw new ValidationError(
      field,
      `${field} must list at least one status; leave it out to accept any 2xx status.`,
    );
  }
  const seen = new Set<number>();
  codes.forEach((code, index) => {
    const at = `${field}[${index}]`;
    integerInRange(at, code, 100, 599);
    if (seen.has(code)) {
      throw new ValidationError(at, `${at} lists status ${code} a second time.`);
    }
    seen.add(code);
  });
  return [...codes].sort((a, b) => a - b);
}

/** A value quoted for an error message, cut short so that a huge input stays readable. */
function preview(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
}
