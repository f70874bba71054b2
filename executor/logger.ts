/** Severity of a log line; lines below the configured level are not written. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export const logLevels: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Turns errors into something JSON can carry (an Error's own properties are not enumerable). */
function serializable(value: unknown): unknown {
  if (value instanceof Error) {
    const cause = (value as { cause?: unknown }).cause;
    return {
      name: value.name,
      message: value.message,
      ...(cause === undefined ? {} : { cause: serializable(cause) }),
    };
  }
  return value;
}

/**
 * One JSON object per line on stderr: stdout is kept for the few lines meant for people and tests
 * (such as "connected"). Callers never pass secrets (keys, tokens) in `fields`.
 */
export function createLogger(
  minimumLevel: LogLevel = 'info',
  write: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  const minimumRank = logLevels.indexOf(minimumLevel);
  const log =
    (level: LogLevel) =>
    (message: string, fields: Record<string, unknown> = {}): void => {
      if (logLevels.indexOf(level) < minimumRank) return;
      const entries = Object.entries(fields).map(([key, value]) => [key, serializable(value)]);
      write(
        JSON.stringify({
          time: new Date().toISOString(),
          level,
          message,
          ...Object.fromEntries(entries),
        }) + '\n',
      );
    };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/** A logger that drops everything, for tests that do not look at logs. */
export const silentLogger: Logger = createLogger('error', () => undefined);
