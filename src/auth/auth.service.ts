import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { recordAudit } from '../audit/audit-log.js';
import type { Config } from '../config.js';
import type { RequestContext } from '../server/context.js';
import { NotFoundError, UnauthenticatedError, ValidationError } from '../shared/app-error.js';
import { integerInRange, parseId, requiredText } from '../shared/validation.js';
import { User } from '../users/user.entity.js';
import { signAccessToken } from './access-tokens.js';
import { ApiToken } from './api-token.entity.js';
import type { AuthPayload, CreateApiTokenInput, CreatedApiToken } from './auth.types.js';
import { requirePrincipal } from './auth-checker.js';
import { LoginThrottle } from './login-throttle.js';
import { hashPassword, unusablePasswordHash, verifyPassword } from './password.js';
import { isUsernameShaped, validPassword } from '../users/user.validation.js';
import { apiTokenPrefix, newSecret, refreshTokenPrefix, sha256 } from './secrets.js';
import { Session } from './session.entity.js';
import type { KeyRing } from './signing-keys.js';

const badCredentials = 'Wrong username or password.';

export class AuthService {
  private readonly throttle: LoginThrottle;

  constructor(
    private readonly config: Config,
    private readonly keys: KeyRing,
  ) {
    this.throttle = new LoginThrottle({
      maxFailuresPerUser: config.loginMaxFailuresPerUser,
      maxFailuresPerAddress: config.loginMaxFailuresPerAddress,
      windowSeconds: config.loginFailureWindowSeconds,
    });
  }

  async login(ctx: RequestContext, username: string, password: string): Promise<AuthPayload> {
    const name = username.trim();
    await this.throttle.assertAllowed(ctx.em, name, ctx.clientAddress);
    // A name no user can have (too long, or not a username's characters) is a wrong login
    // like any other, without asking the database about it.
    const user = isUsernameShaped(name) ? await ctx.em.findOne(User, { username: name }) : null;
    // Unknown users cost the same scrypt time, so timing does not reveal which names exist.
    const matches = await verifyPassword(password, user?.passwordHash ?? unusablePasswordHash);
    if (!user || !matches) {
      await this.throttle.recordFailure(ctx.em, name, ctx.clientAddress);
      throw new UnauthenticatedError(badCredentials);
    }
    if (!user.isEnabled) throw new UnauthenticatedError('This user is disabled.');
    await this.throttle.recordSuccess(ctx.em, name);
    return ctx.em.transactional(async (em) => {
      const session = new Session();
      session.id = randomUUID();
      session.user = user;
      const refreshToken = newSecret(refreshTokenPrefix);
      session.refreshTokenHash = sha256(refreshToken);
      session.expiresAt = new Date(Date.now() + this.config.refreshTokenTtlSeconds * 1000);
      em.persist(session);
      recordAudit(
        em,
        { principal: principalOf(user, session.id), requestId: ctx.requestId },
        {
          action: 'login',
          entityType: 'Session',
          entityId: session.id,
          before: null,
          after: { userId: user.id, expiresAt: session.expiresAt },
        },
      );
      await em.flush();
      return this.payload(user, session, refreshToken);
    });
  }

  /** Rotates the refresh token: the one given stops working, a new one is returned. */
  async refresh(ctx: RequestContext, refreshToken: string): Promise<AuthPayload> {
    const next = newSecret(refreshTokenPrefix);
    const [row] = await ctx.em.execute<{ id: string; user_id: number; expires_at: Date }[]>(
      `update sessions s set refresh_token_hash = ?
         from users u
        where u.id = s.user_id and s.refresh_token_hash = ? and s.revoked_at is null
          and s.expires_at > now() and u.is_enabled
    returning s.id, s.user_id, s.expires_at`,
      [sha256(next), sha256(refreshToken)],
    );
    if (!row)
      throw new UnauthenticatedError(
        'The refresh token is used, revoked or expired; log in again.',
      );
    const user = await this.currentUser(ctx.em, row.user_id);
    const session = ctx.em.getReference(Session, row.id);
    session.expiresAt = new Date(row.expires_at);
    return this.payload(user, session, next);
  }

  /** Ends the caller's session (its access and refresh tokens stop working at once). */
  async logout(ctx: RequestContext): Promise<boolean> {
    const principal = requirePrincipal(ctx);
    if (!principal.sessionId) {
      throw new ValidationError(
        'Authorization',
        'logout ends a login session; revoke API tokens with revokeApiToken.',
      );
    }
    await ctx.em.transactional(async (em) => {
      await em.nativeUpdate(
        Session,
        { id: principal.sessionId!, revokedAt: null },
        { revokedAt: new Date() },
      );
      recordAudit(em, ctx, {
        action: 'logout',
        entityType: 'Session',
        entityId: principal.sessionId!,
        before: { revoked: false },
        after: { revoked: true },
      });
    });
    ctx.services.principals.changed(principal.userId);
    return true;
  }

  /** Sets a new password after checking the current one, and ends every other session. */
  async changePassword(
    ctx: RequestContext,
    currentPassword: string,
    newPassword: string,
  ): Promise<boolean> {
    const principal = requirePrincipal(ctx);
    const user = await this.currentUser(ctx.em, principal.userId);
    if (!(await verifyPassword(currentPassword, user.passwordHash))) {
      throw new ValidationError('currentPassword', 'The current password is wrong.');
    }
    const hash = await hashPassword(validPassword('newPassword', newPassword));
    await ctx.em.transactional(async (em) => {
      const before = user.passwordHash;
      await em.nativeUpdate(User, { id: user.id }, { passwordHash: hash });
      await em.nativeUpdate(
        Session,
        {
          user: user.id,
          revokedAt: null,
          ...(principal.sessionId ? { id: { $ne: principal.sessionId } } : {}),
        },
        { revokedAt: new Date() },
      );
      recordAudit(em, ctx, {
        action: 'changeMyPassword',
        entityType: 'User',
        entityId: user.id,
        before: { passwordHash: before },
        after: { passwordHash: hash },
      });
    });
    ctx.services.principals.changed(user.id);
    return true;
  }

  async createApiToken(ctx: RequestContext, input: CreateApiTokenInput): Promise<CreatedApiToken> {
    const principal = requirePrincipal(ctx);
    const name = requiredText('input.name', input.name, 100);
    const expiresIn = input.expiresInSeconds ?? null;
    if (expiresIn !== null)
      integerInRange('input.expiresInSeconds', expiresIn, 60, 10 * 365 * 86_400);
    const token = newSecret(apiTokenPrefix);
    return ctx.em.transactional(async (em) => {
      const apiToken = new ApiToken();
      apiToken.user = em.getReference(User, principal.userId);
      apiToken.name = name;
      apiToken.tokenHash = sha256(token);
      apiToken.prefix = token.slice(0, apiTokenPrefix.length + 6);
      apiToken.expiresAt = expiresIn === null ? null : new Date(Date.now() + expiresIn * 1000);
      em.persist(apiToken);
      await em.flush();
      recordAudit(em, ctx, {
        action: 'createApiToken',
        entityType: 'ApiToken',
        entityId: apiToken.id,
        before: null,
        after: {
          name,
          prefix: apiToken.prefix,
          expiresAt: apiToken.expiresAt,
          tokenHash: apiToken.tokenHash,
        },
      });
      return { token, apiToken };
    });
  }

  async revokeApiToken(ctx: RequestContext, id: string): Promise<ApiToken> {
    const principal = requirePrincipal(ctx);
    const revoked = await ctx.em.transactional(async (em) => {
      const apiToken = await em.findOne(ApiToken, {
        id: parseId('id', id),
        user: principal.userId,
      });
      if (!apiToken) throw new NotFoundError('ApiToken', id);
      if (!apiToken.revokedAt) {
        apiToken.revokedAt = new Date();
        recordAudit(em, ctx, {
          action: 'revokeApiToken',
          entityType: 'ApiToken',
          entityId: apiToken.id,
          before: { revokedAt: null },
          after: { revokedAt: apiToken.revokedAt },
        });
      }
      await em.flush();
      return apiToken;
    });
    ctx.services.principals.changed(principal.userId);
    return revoked;
  }

  async apiTokens(ctx: RequestContext): Promise<ApiToken[]> {
    const principal = requirePrincipal(ctx);
    return ctx.em.find(ApiToken, { user: principal.userId }, { orderBy: { id: 'asc' } });
  }

  /**
   * The caller's user. Another replica may still hold the credentials of a user deleted a moment
   * ago (until its cache hears of the deletion): the call is then refused as unauthenticated, as
   * it is everywhere once the cache has caught up, not failed as an internal error.
   */
  async currentUser(em: EntityManager, userId: number): Promise<User> {
    const user = await em.findOne(User, { id: userId });
    if (!user) throw new UnauthenticatedError('The user these credentials belong to was deleted.');
    return user;
  }

  private async payload(user: User, session: Session, refreshToken: string): Promise<AuthPayload> {
    const access = await signAccessToken(
      this.keys,
      { userId: user.id, sessionId: session.id },
      this.config.accessTokenTtlSeconds,
    );
    return {
      accessToken: access.token,
      accessTokenExpiresAt: access.expiresAt,
      refreshToken,
      refreshTokenExpiresAt: session.expiresAt,
      user,
    };
  }
}

function principalOf(user: User, sessionId: string) {
  return { userId: user.id, username: user.username, role: user.role, sessionId, apiTokenId: null };
}
