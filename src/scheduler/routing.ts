import { RoutingStrategy } from '../tasks/routing-strategy.js';

/** An executor a run may go to, through one of its task's bindings. */
export interface Candidate {
  executorId: number;
  bindingId: number;
  weight: number;
  /** Runs it has now (dispatched or running), including those assigned in this pass. */
  active: number;
  capacity: number;
}

/**
 * Picks an executor with free capacity for one run, or null when none has room. `turn` is the
 * task's round-robin position (any increasing number works).
 */
export function pickExecutor(
  strategy: RoutingStrategy,
  candidates: readonly Candidate[],
  turn: number,
  random: () => number = Math.random,
): Candidate | null {
  const free = candidates
    .filter((c) => c.active < c.capacity)
    .sort((a, b) => a.bindingId - b.bindingId);
  if (free.length === 0) return null;
  switch (strategy) {
    case RoutingStrategy.FAILOVER:
      return free[0]!;
    case RoutingStrategy.RANDOM:
      return free[Math.floor(random() * free.length)]!;
    case RoutingStrategy.WEIGHTED: {
      const total = free.reduce((sum, c) => sum + c.weight, 0);
      let ticket = random() * total;
      for (const candidate of free) {
        ticket -= candidate.weight;
        if (ticket < 0) return candidate;
      }
      return free.at(-1)!;
    }
    case RoutingStrategy.ROUND_ROBIN:
      return free[turn % free.length]!;
    case RoutingStrategy.LEAST_LOADED:
    case RoutingStrategy.BROADCAST:
    default:
      return free.reduce((best, c) =>
        c.active / c.capacity < best.active / best.capacity ? c : best,
      );
  }
}
