import path from 'node:path';
import type { LogLevel } from './shared/logger.js';

/** Everything the server reads from the environment, parsed once. */
export interface Config {
  /** HTTP and WebSocket port. `PORT`, default 4000. */
  readonly port: number;
  /** Interface to listen on. `HOST`, default `0.0.0.0`. */
  readonly host: string;
  /** PostgreSQL URL; when unset an embedded cluster under `dataDir` is used. */
  readonly databaseUrl: string | undefined;
  /** Local state (embedded database). `GRAPHCRON_DATA_DIR`, default `./.data`. */
  readonly dataDir: string;
  readonly adminUsername: string;
  /** When unset, a random password is generated and printed once, on first start. */
  readonly adminPassword: string | undefined;
  /** PEM (PKCS#8) RSA key that signs access tokens; when unset one is generated and stored. */
  readonly jwtPrivateKeyPem: string | undefined;
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenTtlSeconds: number;
  /**
   * How long a replica may answer for a credential (who it is, its role) without asking the
   * database again (`GRAPHCRON_CREDENTIAL_CACHE_SECONDS`, default 2, 0 to always ask). Changes
   * made through the API take effect at once regardless; this bounds changes made by hand.
   */
  readonly credentialCacheSeconds: number;
  /** Failed logins allowed per username, and per client address, within the window. */
  readonly loginMaxFailuresPerUser: number;
  readonly loginMaxFailuresPerAddress: number;
  readonly loginFailureWindowSeconds: number;
  readonly maxQueryDepth: number;
  /** Upper bound on lexical tokens in one GraphQL document. */
  readonly maxQueryTokens: number;
  readonly logLevel: LogLevel;
  /** An executor silent this long is offline and its runs become UNKNOWN. */
  readonly executorHeartbeatTimeoutSeconds: number;
  /**
   * Run one executor beside the server (`GRAPHCRON_LOCAL_EXECUTOR`): on by default with the
   * embedded database, off with DATABASE_URL unless set to 1.
   */
  readonly localExecutor: boolean;
  /** Run the cron ticker on this replica (`GRAPHCRON_CRON_TICKER`, default 1). */
  readonly cronTicker: boolean;
  /** A scheduled fire later than this is a misfire (handled by the task's misfirePolicy). */
  readonly misfireThresholdSeconds: number;
  /**
   * Cron fires are made and dispatched this long before their time, and started on it by their
   * executor (`GRAPHCRON_CRON_LEAD_MS`, default 1,000; 0 makes them at their time).
   */
  readonly cronLeadMs: number;
  /** An assignment its executor has not acknowledged within this is dispatched again. */
  readonly assignmentAckTimeoutSeconds: number;
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): Config {
  return Object.freeze({
    port: integer(env, 'PORT', 4000, 0, 65535),
    host: env.HOST?.trim() || '0.0.0.0',
    databaseUrl: env.DATABASE_URL?.trim() || undefined,
    dataDir: path.resolve(env.GRAPHCRON_DATA_DIR?.trim() || '.data'),
    adminUsername: env.GRAPHCRON_ADMIN_USERNAME?.trim() || 'admin',
    adminPassword: env.GRAPHCRON_ADMIN_PASSWORD || undefined,
    jwtPrivateKeyPem: env.GRAPHCRON_JWT_PRIVATE_KEY?.replace(/\\n/g, '\n') || undefined,
    accessTokenTtlSeconds: integer(env, 'GRAPHCRON_ACCESS_TOKEN_TTL_SECONDS', 900, 1, 86_400),
    credentialCacheSeconds: integer(env, 'GRAPHCRON_CREDENTIAL_CACHE_SECONDS', 2, 0, 60),
    refreshTokenTtlSeconds: integer(
      env,
      'GRAPHCRON_REFRESH_TOKEN_TTL_SECONDS',
      30 * 86_400,
      60,
      365 * 86_400,
    ),
    loginMaxFailuresPerUser: integer(env, 'GRAPHCRON_LOGIN_MAX_FAILURES_PER_USER', 5, 1, 10_000),
    loginMaxFailuresPerAddress: integer(
      env,
      'GRAPHCRON_LOGIN_MAX_FAILURES_PER_ADDRESS',
      50,
      1,
      100_000,
    ),
    loginFailureWindowSeconds: integer(
      env,
      'GRAPHCRON_LOGIN_FAILURE_WINDOW_SECONDS',
      900,
      1,
      86_400,
    ),
    maxQueryDepth: integer(env, 'GRAPHCRON_MAX_QUERY_DEPTH', 12, 2, 100),
    maxQueryTokens: integer(env, 'GRAPHCRON_MAX_QUERY_TOKENS', 5000, 100, 1_000_000),
    logLevel: logLevel(env.GRAPHCRON_LOG_LEVEL),
    cronTicker: flag(env, 'GRAPHCRON_CRON_TICKER', true),
    misfireThresholdSeconds: integer(env, 'GRAPHCRON_MISFIRE_THRESHOLD_SECONDS', 5, 1, 86_400),
    cronLeadMs: integer(env, 'GRAPHCRON_CRON_LEAD_MS', 1_000, 0, 10_000),
    assignmentAckTimeoutSeconds: integer(
      env,
      'GRAPHCRON_ASSIGNMENT_ACK_TIMEOUT_SECONDS',
      30,
      2,
      3600,
    ),
    localExecutor: flag(env, 'GRAPHCRON_LOCAL_EXECUTOR', !env.DATABASE_URL?.trim()),
    executorHeartbeatTimeoutSeconds: integer(
      env,
      'GRAPHCRON_EXECUTOR_HEARTBEAT_TIMEOUT_SECONDS',
      20,
      2,
      3600,
    ),
  });
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name} must be 1 or 0, got "${raw}"`);
}

function logLevel(raw: string | undefined): LogLevel {
  const value = raw?.trim() || 'info';
  if (['debug', 'info', 'warn', 'error', 'silent'].includes(value)) return value as LogLevel;
  throw new ConfigError(
    `GRAPHCRON_LOG_LEVEL must be one of debug, info, warn, error, silent, got "${value}"`,
  );
}
