/** Bad command-line input: the CLI prints the message on one line and exits 64 (EX_USAGE). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A number from a flag or an environment variable, within bounds, or a UsageError naming it. */
export function parseNumber(
  source: string,
  text: string,
  bounds: { min: number; max: number; isInteger: boolean },
): number {
  const value = Number(text);
  const isValid =
    text.trim() !== '' &&
    Number.isFinite(value) &&
    (!bounds.isInteger || Number.isInteger(value)) &&
    value >= bounds.min &&
    value <= bounds.max;
  if (!isValid) {
    const kind = bounds.isInteger ? 'an integer' : 'a number';
    throw new UsageError(
      `${source} must be ${kind} from ${bounds.min} to ${bounds.max}, not "${text}"`,
    );
  }
  return value;
}
