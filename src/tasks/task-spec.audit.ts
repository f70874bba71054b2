import type { EnvironmentMap, HttpRequestSpec } from './task-spec.js';

/*
 * The JSON columns of a task as audit snapshots record them. The audit diff compares values as
 * JSON text, and PostgreSQL's jsonb returns keys in its own order, so a loaded task and the same
 * task just assigned would differ without these: keys are put in one fixed order.
 */

export function canonicalEnvironment(env: EnvironmentMap): EnvironmentMap {
  return sortedByKey(env);
}

export function canonicalHttpRequest(spec: HttpRequestSpec | null): HttpRequestSpec | null {
  if (spec === null) return null;
  return {
    method: spec.method,
    url: spec.url,
    headers: sortedByKey(spec.headers),
    body: spec.body,
    expectedStatusCodes: spec.expectedStatusCodes,
  };
}

function sortedByKey(map: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
