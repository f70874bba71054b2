import { createHash } from 'node:crypto';
import type { EnvironmentMap, HttpRequestSpec } from './task-spec.js';

/*
 * The JSON columns of a task as audit snapshots record them. The audit diff compares values as
 * JSON text, and PostgreSQL's jsonb returns keys in its own order, so a loaded task and the same
 * task just assigned would differ without these: keys are put in one fixed order.
 *
 * Environment values, header values and request bodies often carry secrets (tokens, passwords),
 * so the audit keeps a fingerprint of each instead: a change is still visible, its content not.
 */

export function canonicalEnvironment(env: EnvironmentMap): EnvironmentMap {
  return fingerprinted(sortedByKey(env));
}

export function canonicalHttpRequest(spec: HttpRequestSpec | null): HttpRequestSpec | null {
  if (spec === null) return null;
  return {
    method: spec.method,
    url: spec.url,
    headers: fingerprinted(sortedByKey(spec.headers)),
    body: spec.body === null ? null : fingerprint(spec.body),
    expectedStatusCodes: spec.expectedStatusCodes,
  };
}

function sortedByKey(map: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function fingerprinted(map: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).map(([key, value]) => [key, fingerprint(value)]));
}

/** `[REDACTED sha256:…]`: equal values give equal fingerprints, and nothing of the value shows. */
function fingerprint(value: string): string {
  return `[REDACTED sha256:${createHash('sha256').update(value).digest('hex').slice(0, 12)}]`;
}
