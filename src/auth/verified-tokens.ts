import { createHash } from 'node:crypto';
import { BoundedMap } from '../shared/bounded-map.js';

/** Most tokens remembered; the oldest is forgotten first. */
const maxRememberedTokens = 10_000;

/**
 * What verifying a signed token found, remembered until the token expires, by a digest of the
 * token: a lookup compares digests, never the secret itself. A client sends the same access token
 * with every call of its life, and an RS256 verification per call was ~5% of the server's CPU
 * at 300 `runTask` calls a second. Only the signature's verdict is remembered: whatever a caller
 * checks against the database (the session behind the token) it still checks every time.
 */
export class VerifiedTokens<T> {
  private readonly entries = new BoundedMap<string, { value: T; expiresAtMs: number }>(
    maxRememberedTokens,
  );

  /** What `remember` stored for `token`, unless it has expired since. */
  get(token: string): T | undefined {
    const key = digest(token);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (Date.now() < entry.expiresAtMs) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  remember(token: string, value: T, expiresAtMs: number): void {
    this.entries.set(digest(token), { value, expiresAtMs });
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64');
}
