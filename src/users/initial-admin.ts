import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { hashPassword } from '../auth/password.js';
import { User } from './user.entity.js';
import { UserRole } from './user-role.js';
import { validPassword, validUsername } from './user.validation.js';

export interface InitialAdmin {
  username: string;
  /** Set only when the password was generated here: print it once, it is stored nowhere. */
  generatedPassword: string | null;
}

/**
 * On a database with no users, creates the first admin. Replicas starting together serialise on
 * an advisory lock, so exactly one admin is made. Returns null when users already exist.
 */
export async function ensureInitialAdmin(
  em: EntityManager,
  username: string,
  password: string | undefined,
): Promise<InitialAdmin | null> {
  return em.transactional(async (tx) => {
    await tx.execute(`select pg_advisory_xact_lock(hashtext('graphcron.initial_admin'))`);
    if ((await tx.count(User, {})) > 0) return null;
    const generatedPassword = password ? null : randomBytes(12).toString('base64url');
    const admin = new User();
    admin.username = validUsername('GRAPHCRON_ADMIN_USERNAME', username);
    admin.passwordHash = await hashPassword(
      validPassword('GRAPHCRON_ADMIN_PASSWORD', password ?? generatedPassword!),
    );
    admin.role = UserRole.ADMIN;
    admin.nickName = 'Administrator';
    tx.persist(admin);
    return { username: admin.username, generatedPassword };
  });
}
