import { nextFireTime } from '../scheduler/cron.js';
import { FrequencyMode } from './frequency-mode.js';
import type { Task } from './task.entity.js';

/** What decides a task's next scheduled fire. */
export type ScheduleOf = Pick<
  Task,
  | 'isEnabled'
  | 'cronExpression'
  | 'timeZone'
  | 'frequency'
  | 'frequencyTimes'
  | 'firedCount'
  | 'activeFrom'
  | 'activeUntil'
>;

/**
 * The first fire strictly after `after` of an enabled task with a schedule, inside its active
 * window: at or after `activeFrom`, and null when it would be later than `activeUntil`. Null too
 * for a disabled or manual task, and for ONCE/TIMES tasks that have had all their fires.
 */
export function nextScheduledFire(task: ScheduleOf, after: Date): Date | null {
  if (!task.isEnabled || task.cronExpression === null || !hasFiresLeft(task)) return null;
  // nextFireTime is strictly after its argument; a fire exactly at activeFrom is in the window.
  const from =
    task.activeFrom !== null && task.activeFrom > after
      ? new Date(task.activeFrom.getTime() - 1)
      : after;
  const next = nextFireTime(task.cronExpression, task.timeZone, from);
  if (next === null || (task.activeUntil !== null && next > task.activeUntil)) return null;
  return next;
}

/** Whether the frequency allows another scheduled fire after `firedCount` of them. */
export function hasFiresLeft(
  task: Pick<ScheduleOf, 'frequency' | 'frequencyTimes' | 'firedCount'>,
): boolean {
  return firesLeft(task) > 0;
}

/** How many more scheduled fires the frequency allows (Infinity for REPEAT). */
export function firesLeft(
  task: Pick<ScheduleOf, 'frequency' | 'frequencyTimes' | 'firedCount'>,
): number {
  switch (task.frequency) {
    case FrequencyMode.ONCE:
      return Math.max(0, 1 - task.firedCount);
    case FrequencyMode.TIMES:
      return Math.max(0, (task.frequencyTimes ?? 0) - task.firedCount);
    case FrequencyMode.REPEAT:
      return Number.POSITIVE_INFINITY;
  }
}
