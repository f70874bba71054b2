import type { EntityManager } from '@mikro-orm/postgresql';
import { RateLimitedError } from '../shared/app-error.js';
import { isUsernameShaped } from '../users/user.validation.js';
import { sha256 } from './secrets.js';

export interface ThrottleLimits {
  maxFailuresPerUser: number;
  maxFailuresPerAddress: number;
  windowSeconds: number;
}

/**
 * A login name as the key's column (varchar(200)) can hold it: any real username as it is, and
 * anything else (too long, or text no username has) as its hash, so that impossible names are
 * still counted, each under a key of its own (a real username never contains ":").
 */
function userKey(username: string): string {
  const name = username.toLowerCase();
  return isUsernameShaped(name) ? `user:${name}` : `user:sha256:${sha256(name)}`;
}
const addressKey = (address: string): string => `addr:${address}`;

/**
 * Counts failed logins per username and per client address in the database, so that every
 * replica sees the same counts. A key over its limit is refused until its window ends.
 */
export class LoginThrottle {
  constructor(private readonly limits: ThrottleLimits) {}

  async assertAllowed(em: EntityManager, username: string, address: string): Promise<void> {
    const rows = await em.execute<{ key: string; failures: number; retry_after: number }[]>(
      `select key, failures,
              ceil(extract(epoch from window_started_at + make_interval(secs => ?) - now()))::int as retry_after
         from login_throttles
        where key in (?, ?) and window_started_at > now() - make_interval(secs => ?)`,
      [
        this.limits.windowSeconds,
        userKey(username),
        addressKey(address),
        this.limits.windowSeconds,
      ],
    );
    for (const row of rows) {
      const limit = row.key.startsWith('user:')
        ? this.limits.maxFailuresPerUser
        : this.limits.maxFailuresPerAddress;
      if (row.failures >= limit) {
        throw new RateLimitedError(
          `Too many failed logins; try again in ${row.retry_after} seconds.`,
          row.retry_after,
        );
      }
    }
  }

  async recordFailure(em: EntityManager, username: string, address: string): Promise<void> {
    await em.execute(
      `insert into login_throttles (key, failures, window_started_at)
       values (?, 1, now()), (?, 1, now())
       on conflict (key) do update set
         failures = case when login_throttles.window_started_at <= now() - make_interval(secs => ?)
                         then 1 else login_throttles.failures + 1 end,
         window_started_at = case when login_throttles.window_started_at <= now() - make_interval(secs => ?)
                                  then now() else login_throttles.window_started_at end`,
      [
        userKey(username),
        addressKey(address),
        this.limits.windowSeconds,
        this.limits.windowSeconds,
      ],
    );
  }

  async recordSuccess(em: EntityManager, username: string): Promise<void> {
    await em.execute(`delete from login_throttles where key = ?`, [userKey(username)]);
  }
}
