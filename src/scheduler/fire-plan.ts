import type { FrequencyMode } from '../tasks/frequency-mode.js';
import { MisfirePolicy, OverlapPolicy } from '../tasks/schedule-policies.js';
import { firesLeft, nextScheduledFire } from '../tasks/task-schedule.js';
import { previousFireTimes } from './cron.js';

/** What the ticker knows of a due task (a row locked for this tick). */
export interface DueTask {
  cronExpression: string;
  timeZone: string;
  nextFireAt: Date;
  frequency: FrequencyMode;
  frequencyTimes: number | null;
  firedCount: number;
  misfirePolicy: MisfirePolicy;
  overlapPolicy: OverlapPolicy;
  maxParallelRuns: number;
  activeFrom: Date | null;
  activeUntil: Date | null;
  /** Runs of the task now SCHEDULED, DISPATCHED or RUNNING. */
  activeRuns: number;
}

export interface PlannedFire {
  scheduledAt: Date;
  /** null: a run; otherwise why this fire is recorded as SKIPPED. */
  skipReason: string | null;
}

export interface FirePlan {
  fires: PlannedFire[];
  /** Where the schedule goes on; null when it has ended (ONCE/TIMES used up, past activeUntil). */
  nextFireAt: Date | null;
  runs: number;
}

export interface PlanOptions {
  /** A fire later than this is a misfire (the scheduler was down or far behind). */
  misfireThresholdMs: number;
  /** At most this many fires are listed per task and tick; older missed ones are summarised. */
  maxFires: number;
}

/**
 * Pure scheduling decision for one due task at `now` (the database clock): which fire times
 * become runs, which are recorded as skipped and why, and the next fire time. Fires are at
 * cron times in the task's time zone, so a daylight-saving gap or overlap fires once. Fires up
 * to `horizon` (now, or a little after it: fires made ahead of their time) are planned; lateness
 * is measured at `now`.
 */
export function planFires(
  task: DueTask,
  now: Date,
  options: PlanOptions,
  horizon: Date = now,
): FirePlan {
  const due = dueFireTimes(task, horizon, options.maxFires);
  const remaining = firesLeft(task);
  const fires: PlannedFire[] = [];
  let runs = 0;
  let active = task.activeRuns;
  const late = due.times.filter((t) => now.getTime() - t.getTime() > options.misfireThresholdMs);
  const onTime = due.times.filter((t) => now.getTime() - t.getTime() <= options.misfireThresholdMs);
  const catchUp = task.misfirePolicy === MisfirePolicy.FIRE_ONCE ? late.at(-1) : undefined;
  const tryRun = (scheduledAt: Date, lateReason: string | null): void => {
    if (lateReason) return void fires.push({ scheduledAt, skipReason: lateReason });
    if (runs >= remaining) {
      return void fires.push({
        scheduledAt,
        skipReason: 'the task has had all its fires (frequency)',
      });
    }
    if (active >= task.maxParallelRuns && task.overlapPolicy === OverlapPolicy.SKIP) {
      return void fires.push({
        scheduledAt,
        skipReason: `overlap: the task already had ${active} of maxParallelRuns ${task.maxParallelRuns} runs`,
      });
    }
    fires.push({ scheduledAt, skipReason: null });
    runs++;
    active++;
  };
  for (const time of late) {
    const missedBy = Math.round((now.getTime() - time.getTime()) / 1000);
    const reason = time === catchUp ? null : `misfire: the scheduler was ${missedBy} s late`;
    tryRun(time, reason);
  }
  if (due.truncated && fires[0]?.skipReason)
    fires[0].skipReason += ' (earlier missed fires not listed)';
  for (const time of onTime) tryRun(time, null);
  const nextFireAt = nextScheduledFire(
    { ...task, isEnabled: true, firedCount: task.firedCount + runs },
    horizon,
  );
  return { fires, runs, nextFireAt };
}

/** Fire times from `nextFireAt` (inclusive) up to `now`, the latest `maxFires` of them. */
function dueFireTimes(
  task: DueTask,
  now: Date,
  maxFires: number,
): { times: Date[]; truncated: boolean } {
  // Looked up backwards from now: a long outage costs no more than `maxFires` steps.
  const recent = previousFireTimes(
    task.cronExpression,
    task.timeZone,
    now,
    maxFires + 1,
    task.nextFireAt,
  );
  const truncated = recent.length > maxFires;
  const times = recent.slice(0, maxFires).reverse();
  return {
    times: times.filter(
      (t) =>
        (!task.activeFrom || t >= task.activeFrom) && (!task.activeUntil || t <= task.activeUntil),
    ),
    truncated,
  };
}
