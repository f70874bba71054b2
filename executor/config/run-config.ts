import { hostname } from 'node:os';
import path from 'node:path';
import { logLevels, type LogLevel } from '../logger.js';
import { readIdentity } from './identity.js';
import { parseServerUrl, type ServerEndpoints } from './server-url.js';
import { parseNumber, UsageError } from './usage-error.js';

/** Default state folder, relative to the working directory. */
export const defaultStateDir = './.graphcron-executor';

/** Everything `run` needs, resolved once: flag, else environment variable, else identity, else default. */
export interface RunConfig {
  readonly server: ServerEndpoints;
  readonly executorId: string;
  /** For messages only; the server knows the executor by id. */
  readonly name: string;
  readonly stateDir: string;
  /** Runs at once. Default 4. */
  readonly capacity: number;
  /** Default 5 000. */
  readonly heartbeatIntervalMs: number;
  /** SIGKILL this long after SIGTERM. Default 5 000. */
  readonly killGraceMs: number;
  /**
   * Accept assignments and report each one FINISHED at once, running nothing: for testing a
   * pipeline (and the benchmarks) without side effects on this machine. Default false.
   */
  readonly isDryRun: boolean;
  readonly logLevel: LogLevel;
}

/** Flags of `run`, as node:util parseArgs gives them. */
export interface RunFlags {
  server?: string;
  'executor-id'?: string;
  'state-dir'?: string;
  capacity?: string;
  'heartbeat-seconds'?: string;
  'kill-grace-seconds'?: string;
  'log-level'?: string;
  'dry-run'?: boolean;
}

export const runFlagOptions = {
  server: { type: 'string' },
  'executor-id': { type: 'string' },
  'state-dir': { type: 'string' },
  capacity: { type: 'string' },
  'heartbeat-seconds': { type: 'string' },
  'kill-grace-seconds': { type: 'string' },
  'log-level': { type: 'string' },
  'dry-run': { type: 'boolean' },
} as const;

type Environment = Record<string, string | undefined>;

/** A value from its flag or its environment variable, with the name to blame when it is bad. */
function pick(
  flagValue: string | undefined,
  flag: string,
  environment: Environment,
  variable: string,
): { value: string; source: string } | undefined {
  if (flagValue !== undefined) return { value: flagValue, source: `--${flag}` };
  const fromEnvironment = environment[variable];
  if (fromEnvironment !== undefined && fromEnvironment !== '') {
    return { value: fromEnvironment, source: variable };
  }
  return undefined;
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'true', 'yes'].includes(value.toLowerCase());
}

export function stateDirFrom(flagValue: string | undefined, environment: Environment): string {
  return path.resolve(
    pick(flagValue, 'state-dir', environment, 'GRAPHCRON_EXECUTOR_STATE_DIR')?.value ??
      defaultStateDir,
  );
}

export function logLevelFrom(flagValue: string | undefined, environment: Environment): LogLevel {
  const chosen = pick(flagValue, 'log-level', environment, 'GRAPHCRON_EXECUTOR_LOG_LEVEL');
  if (!chosen) return 'info';
  if (!(logLevels as readonly string[]).includes(chosen.value)) {
    throw new UsageError(
      `${chosen.source} must be one of ${logLevels.join(', ')}, not "${chosen.value}"`,
    );
  }
  return chosen.value as LogLevel;
}

export async function resolveRunConfig(
  flags: RunFlags,
  environment: Environment,
): Promise<RunConfig> {
  const stateDir = stateDirFrom(flags['state-dir'], environment);
  const identity = await readIdentity(stateDir);

  const server = pick(flags.server, 'server', environment, 'GRAPHCRON_SERVER_URL');
  const serverUrl = server?.value ?? identity?.serverUrl;
  if (!serverUrl) {
    throw new UsageError(
      `no server: pass --server or GRAPHCRON_SERVER_URL, or run "register" first (no ${path.join(stateDir, 'identity.json')})`,
    );
  }
  const executor = pick(flags['executor-id'], 'executor-id', environment, 'GRAPHCRON_EXECUTOR_ID');
  const executorId = executor?.value ?? identity?.executorId;
  if (!executorId) {
    throw new UsageError(
      `no executor id: pass --executor-id or GRAPHCRON_EXECUTOR_ID, or run "register" first`,
    );
  }
  if (!/^[1-9]\d*$/.test(executorId)) {
    throw new UsageError(
      `${executor?.source ?? 'identity.json'}: the executor id must be a positive integer, not "${executorId}"`,
    );
  }

  const numberFrom = (
    flag: Exclude<keyof RunFlags, 'dry-run'>,
    variable: string,
    fallback: number,
    bounds: { min: number; max: number; isInteger: boolean },
  ): number => {
    const chosen = pick(flags[flag], flag, environment, variable);
    return chosen ? parseNumber(chosen.source, chosen.value, bounds) : fallback;
  };
  return Object.freeze({
    server: parseServerUrl(serverUrl, server?.source ?? 'identity.json serverUrl'),
    executorId,
    name: (identity?.executorId === executorId && identity.name) || hostname(),
    stateDir,
    capacity: numberFrom('capacity', 'GRAPHCRON_EXECUTOR_CAPACITY', 4, {
      min: 1,
      max: 1000,
      isInteger: true,
    }),
    heartbeatIntervalMs:
      numberFrom('heartbeat-seconds', 'GRAPHCRON_EXECUTOR_HEARTBEAT_SECONDS', 5, {
        min: 0.05,
        max: 3600,
        isInteger: false,
      }) * 1000,
    killGraceMs:
      numberFrom('kill-grace-seconds', 'GRAPHCRON_EXECUTOR_KILL_GRACE_SECONDS', 5, {
        min: 0,
        max: 3600,
        isInteger: false,
      }) * 1000,
    isDryRun: flags['dry-run'] ?? isTrue(environment.GRAPHCRON_EXECUTOR_DRY_RUN),
    logLevel: logLevelFrom(flags['log-level'], environment),
  });
}
