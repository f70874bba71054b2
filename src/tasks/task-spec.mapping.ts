import type { EnvironmentMap, HttpRequestSpec } from './task-spec.js';
import { EnvironmentVariable, HttpHeader, HttpRequest } from './task-spec.types.js';

/** Stored name → value maps become lists sorted by name in the API. */
export function toEnvironmentList(env: EnvironmentMap | null | undefined): EnvironmentVariable[] {
  return Object.entries(env ?? {})
    .sort(([a], [b]) => byCodeUnits(a, b))
    .map(([name, value]) => Object.assign(new EnvironmentVariable(), { name, value }));
}

export function toHttpRequest(spec: HttpRequestSpec): HttpRequest {
  return Object.assign(new HttpRequest(), {
    method: spec.method,
    url: spec.url,
    headers: Object.entries(spec.headers ?? {})
      // Header names are case-insensitive, so they are ordered ignoring case.
      .sort(([a], [b]) => byCodeUnits(a.toLowerCase(), b.toLowerCase()))
      .map(([name, value]) => Object.assign(new HttpHeader(), { name, value })),
    body: spec.body ?? null,
    expectedStatusCodes: spec.expectedStatusCodes,
  });
}

/** Locale-independent, so the order is the same on every server. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
