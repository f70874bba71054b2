import type { EntityManager, FilterQuery } from '@mikro-orm/postgresql';
import { recordAudit, type Snapshot } from '../audit/audit-log.js';
import { hashPassword } from '../auth/password.js';
import type { RequestContext } from '../server/context.js';
import { ConflictError, NotFoundError } from '../shared/app-error.js';
import { withUniqueConstraints } from '../shared/db-errors.js';
import { paginate, type Page, type PageArgs } from '../shared/pagination.js';
import { containsPattern, ifGiven, parseId } from '../shared/validation.js';
import type {
  CreateUserInput,
  UpdateProfileInput,
  UpdateUserInput,
  UserFilter,
} from './user.inputs.js';
import { User } from './user.entity.js';
import { UserRole } from './user-role.js';
import {
  validEmail,
  validMobile,
  validNickName,
  validPassword,
  validUrl,
  validUsername,
} from './user.validation.js';

const uniqueMessages = {
  users_username_unique: { field: 'username', message: 'That username is taken.' },
  users_email_unique: { field: 'email', message: 'That email belongs to another user.' },
  users_mobile_unique: { field: 'mobile', message: 'That mobile number belongs to another user.' },
};

export function userSnapshot(user: User): Snapshot {
  return {
    username: user.username,
    nickName: user.nickName,
    email: user.email,
    mobile: user.mobile,
    avatarUrl: user.avatarUrl,
    role: user.role,
    isEnabled: user.isEnabled,
    passwordHash: user.passwordHash,
  };
}

export class UserService {
  async list(
    ctx: RequestContext,
    filter: UserFilter | undefined,
    page: PageArgs,
  ): Promise<Page<User>> {
    const where: FilterQuery<User> = {};
    if (filter?.role) where.role = filter.role;
    if (filter?.isEnabled !== undefined && filter.isEnabled !== null)
      where.isEnabled = filter.isEnabled;
    if (filter?.search) {
      const like = containsPattern(filter.search);
      where.$or = [
        { username: { $ilike: like } },
        { nickName: { $ilike: like } },
        { email: { $ilike: like } },
      ];
    }
    return paginate(ctx.em, User, where, page);
  }

  async get(em: EntityManager, id: string | number, field = 'id'): Promise<User> {
    const user = await em.findOne(User, { id: parseId(field, id) });
    if (!user) throw new NotFoundError('User', id);
    return user;
  }

  async create(ctx: RequestContext, input: CreateUserInput): Promise<User> {
    const user = new User();
    user.username = validUsername('input.username', input.username);
    user.passwordHash = await hashPassword(validPassword('input.password', input.password));
    user.role = input.role;
    user.isEnabled = input.isEnabled;
    this.applyProfile(user, input, 'input.');
    return withUniqueConstraints(
      () =>
        ctx.em.transactional(async (em) => {
          em.persist(user);
          await em.flush();
          recordAudit(em, ctx, {
            action: 'createUser',
            entityType: 'User',
            entityId: user.id,
            before: null,
            after: userSnapshot(user),
          });
          return user;
        }),
      uniqueMessages,
    );
  }

  async update(ctx: RequestContext, id: string, input: UpdateUserInput): Promise<User> {
    const passwordHash = await ifGiven(input.password ?? undefined, (p) =>
      hashPassword(validPassword('input.password', p)),
    );
    const updated = await withUniqueConstraints(
      () =>
        ctx.em.transactional(async (em) => {
          const user = await this.get(em, id);
          const before = userSnapshot(user);
          if (input.username !== undefined && input.username !== null) {
            user.username = validUsername('input.username', input.username);
          }
          if (passwordHash) user.passwordHash = passwordHash;
          if (input.role !== undefined && input.role !== null && input.role !== user.role) {
            await this.assertNotLastAdmin(em, user, 'change the role of');
            user.role = input.role;
          }
          if (input.isEnabled === false && user.isEnabled) {
            await this.assertNotLastAdmin(em, user, 'disable');
          }
          if (input.isEnabled !== undefined && input.isEnabled !== null)
            user.isEnabled = input.isEnabled;
          this.applyProfile(user, input, 'input.');
          await em.flush();
          recordAudit(em, ctx, {
            action: 'updateUser',
            entityType: 'User',
            entityId: user.id,
            before,
            after: userSnapshot(user),
          });
          return user;
        }),
      uniqueMessages,
    );
    // A new role, name or state: callers who are this user are looked up again.
    ctx.services.principals.changed(updated.id);
    return updated;
  }

  async updateProfile(
    ctx: RequestContext,
    userId: number,
    input: UpdateProfileInput,
  ): Promise<User> {
    return withUniqueConstraints(
      () =>
        ctx.em.transactional(async (em) => {
          const user = await this.get(em, userId);
          const before = userSnapshot(user);
          this.applyProfile(user, input, 'input.');
          await em.flush();
          recordAudit(em, ctx, {
            action: 'updateMyProfile',
            entityType: 'User',
            entityId: user.id,
            before,
            after: userSnapshot(user),
          });
          return user;
        }),
      uniqueMessages,
    );
  }

  async delete(ctx: RequestContext, id: string): Promise<number> {
    const deleted = await ctx.em.transactional(async (em) => {
      const user = await this.get(em, id);
      if (user.id === ctx.principal?.userId) {
        throw new ConflictError('You cannot delete yourself; ask another admin.');
      }
      await this.assertNotLastAdmin(em, user, 'delete');
      const userId = user.id;
      recordAudit(em, ctx, {
        action: 'deleteUser',
        entityType: 'User',
        entityId: userId,
        before: userSnapshot(user),
        after: null,
      });
      em.remove(user);
      await em.flush();
      return userId;
    });
    ctx.services.principals.changed(deleted);
    return deleted;
  }

  /** Locks the admins so that two concurrent demotions cannot both pass the check. */
  private async assertNotLastAdmin(em: EntityManager, user: User, verb: string): Promise<void> {
    if (user.role !== UserRole.ADMIN || !user.isEnabled) return;
    const admins = await em.execute<{ id: number }[]>(
      `select id from users where role = 'ADMIN' and is_enabled order by id for update`,
    );
    if (admins.length <= 1) {
      throw new ConflictError(`Cannot ${verb} the last enabled admin; make another admin first.`);
    }
  }

  private applyProfile(user: User, input: UpdateProfileInput, prefix = ''): void {
    if (input.nickName !== undefined)
      user.nickName = validNickName(`${prefix}nickName`, input.nickName);
    if (input.email !== undefined) user.email = validEmail(`${prefix}email`, input.email);
    if (input.mobile !== undefined) user.mobile = validMobile(`${prefix}mobile`, input.mobile);
    if (input.avatarUrl !== undefined)
      user.avatarUrl = validUrl(`${prefix}avatarUrl`, input.avatarUrl);
  }
}
