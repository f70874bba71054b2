import { channels } from '../pubsub/channels.js';
import type { NotificationBus } from '../pubsub/notification-bus.js';
import { BoundedMap } from '../shared/bounded-map.js';
import type { Principal } from './principal.js';

/** Most credentials remembered; the oldest is forgotten first. */
const maxRememberedCredentials = 10_000;

interface Entry {
  readonly principal: Principal;
  readonly expiresAtMs: number;
}

/**
 * Who a credential (a login session, an API token) belongs to, as the database said a moment
 * ago, so that a client's burst of calls costs one lookup and not one per call: the lookup was a
 * sixth of the server's CPU for a `{ __typename }` request, and one of the two statements of a
 * `runTask` call.
 *
 * Remembered for at most `ttlMs` and never past the credential's expiry. A change made through
 * the API (a role, a user disabled or deleted, a logout, a password change, a revoked token)
 * forgets the user's entries at once on the replica that made it (`changed`) and, through a
 * notification, on the others; `ttlMs` bounds how long a lost notification, or a change made
 * in the database by hand, goes unnoticed. Only answers that let a caller in are remembered.
 */
export class PrincipalCache {
  private readonly entries = new BoundedMap<string, Entry>(maxRememberedCredentials);
  /**
   * Moves on with every forgetting: a lookup that began before it may have read the database
   * before the change and must not be remembered (`resolve` checks).
   */
  private generation = 0;
  private readonly unsubscribes: (() => void)[] = [];

  constructor(
    private readonly ttlMs: number,
    private readonly bus: NotificationBus,
  ) {
    this.unsubscribes.push(
      bus.on(channels.credentials, (payload) => this.forgetUser(Number(payload))),
      bus.onReconnect(() => this.clear()),
    );
  }

  /**
   * The principal remembered under `key`, or else what `lookUp` reads from the database, which
   * is then remembered until the credential's expiry (`expiresAtMs`, null: it does not expire)
   * or for `ttlMs`, whichever comes first. Not remembered if something was forgotten while it
   * was read: the read may predate the change. A lookup that throws (a refused credential)
   * leaves nothing behind.
   */
  async resolve(
    key: string,
    lookUp: () => Promise<{ principal: Principal; expiresAtMs: number | null }>,
  ): Promise<Principal> {
    const entry = this.entries.get(key);
    if (entry && Date.now() < entry.expiresAtMs) return entry.principal;
    if (entry) this.entries.delete(key);
    const generation = this.generation;
    const { principal, expiresAtMs } = await lookUp();
    if (this.ttlMs > 0 && generation === this.generation) {
      this.entries.set(key, {
        principal,
        expiresAtMs: Math.min(Date.now() + this.ttlMs, expiresAtMs ?? Infinity),
      });
    }
    return principal;
  }

  /**
   * Call after committing a change to `userId` or to one of its credentials: forgotten here at
   * once, and on the other replicas when the notification arrives.
   */
  changed(userId: number): void {
    this.forgetUser(userId);
    this.bus.publishElsewhere(channels.credentials, String(userId));
  }

  stop(): void {
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
    this.clear();
  }

  private forgetUser(userId: number): void {
    this.generation++;
    for (const [key, entry] of this.entries) {
      if (entry.principal.userId === userId) this.entries.delete(key);
    }
  }

  private clear(): void {
    this.generation++;
    this.entries.clear();
  }
}
