/** Capped exponential backoff with jitter, so that many executors do not retry in step. */
export interface BackoffOptions {
  /** Delay after the first failure. Default 500 ms. */
  initialMs?: number;
  /** Upper bound of any delay. Default 30 000 ms. */
  maxMs?: number;
}

export function backoffDelayMs(consecutiveFailures: number, options: BackoffOptions = {}): number {
  const initialMs = options.initialMs ?? 500;
  const maxMs = options.maxMs ?? 30_000;
  const exponent = Math.max(0, consecutiveFailures - 1);
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(exponent, 30));
  // ±20% jitter, never above the cap.
  return Math.min(maxMs, Math.round(base * (0.8 + Math.random() * 0.4)));
}
