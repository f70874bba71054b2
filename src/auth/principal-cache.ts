import { channels } from '../pubsub/channels.js';
import type { NotificationBus } from '../pubsub/notification-bus.js';
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
  private readonly entries = new Map<string, Entry>();
  /**
   * Moves on with every forgetting: a lookup that began before it may have read the database
   * before the change and must not be remembered (`remember` checks).
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

  /** The generation to pass to `remember` for a lookup starting now. */
  lookupStarts(): number {
    return this.generation;
  }

  /** What `remember` stored under `key`, unless it has expired or been forgotten. */
  get(key: string): Principal | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (Date.now() < entry.expiresAtMs) return entry.principal;
    this.entries.delete(key);
    return undefined;
  }

  /**
   * Remembers `principal` under `key` until `credentialExpiresAtMs` (null: the credential does
   * not expire) or for `ttlMs`, whichever comes first, unless something was forgotten since the
   * lookup began (`generation`, from `lookupStarts`).
   */
  remember(
    key: string,
    principal: Principal,
    credentialExpiresAtMs: number | null,
    generation: number,
  ): void {
    if (this.ttlMs <= 0 || generation !== this.generation) return;
    if (this.entries.size >= maxRememberedCredentials) {
      this.entries.delete(this.entries.keys().next().value!);
    }
    const expiresAtMs = Math.min(Date.now() + this.ttlMs, credentialExpiresAtMs ?? Infinity);
    this.entries.set(key, { principal, expiresAtMs });
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
