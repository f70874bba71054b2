import { CronExpressionParser } from 'cron-parser';
import { ValidationError } from '../shared/app-error.js';
import { BoundedMap } from '../shared/bounded-map.js';
import { instantOf, wallClockOf } from './wall-clock.js';

/** The `cron_expression` column's width. */
const maxExpressionLength = 200;
/** The `time_zone` column's width. */
const maxTimeZoneLength = 64;
/** Region/City names, `UTC`, `Etc/GMT+5`...; refuses offsets such as `+05:00`, which are not IANA. */
const timeZoneName = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;
/** cron-parser's `H`, `H/5`, `H(0-29)`: a standalone H (month and day names are letters). */
const hashedValue = /(^|[^A-Za-z])H([^A-Za-z]|$)/;

/**
 * Checks a cron expression and returns it with its fields separated by single spaces.
 * Accepts 5 fields (minute hour day-of-month month day-of-week) or 6 with a leading seconds
 * field. Refuses what cron-parser refuses, `H` (its hashed values are random unless seeded, so
 * the same task would get different fire times from one evaluation to the next), and
 * expressions that can never fire (such as 30 February).
 */
export function validateCronExpression(field: string, expression: string): string {
  const fields = expression.trim().split(/\s+/).filter(Boolean);
  if (fields.length !== 5 && fields.length !== 6) {
    throw new ValidationError(
      field,
      `${field} must have 5 fields (minute hour day-of-month month day-of-week) or 6 with a ` +
        `leading seconds field; "${expression}" has ${fields.length}.`,
    );
  }
  const normalised = fields.join(' ');
  if (normalised.length > maxExpressionLength) {
    throw new ValidationError(field, `${field} must be at most ${maxExpressionLength} characters.`);
  }
  if (fields.some((value) => hashedValue.test(value))) {
    throw new ValidationError(
      field,
      `${field} "${expression}": hashed values (H) are not supported; write the minute and ` +
        'hour you want.',
    );
  }
  try {
    // Parsing checks the syntax; asking for one fire finds expressions that never fire.
    CronExpressionParser.parse(normalised, { tz: 'UTC' }).next();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ValidationError(
      field,
      `${field} "${expression}" is not a cron expression that can fire: ${reason}.`,
    );
  }
  return normalised;
}

/**
 * Checks an IANA time zone name (`UTC` included) and returns it, with its canonical letter case
 * when the runtime knows the name in another case (`america/new_york` becomes
 * `America/New_York`).
 */
export function validateTimeZone(field: string, timeZone: string): string {
  const trimmed = timeZone.trim();
  let resolved: string;
  try {
    if (trimmed.length > maxTimeZoneLength || !timeZoneName.test(trimmed)) throw new RangeError();
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: trimmed }).resolvedOptions().timeZone;
  } catch {
    throw new ValidationError(
      field,
      `${field} must be an IANA time zone name such as "UTC", "Europe/Berlin" or ` +
        `"America/New_York"; got "${timeZone}".`,
    );
  }
  return resolved.toLowerCase() === trimmed.toLowerCase() ? resolved : trimmed;
}

/**
 * The next `count` fire times of `expression` read in `timeZone`, strictly after `after`.
 * Across a daylight-saving gap a wall-clock time that does not exist fires once, at the first
 * instant after the gap; across an overlap a time that happens twice fires once, at its first
 * occurrence. Fewer than `count` are returned only if the expression stops firing.
 * Expects an expression and time zone that passed the validators above.
 */
export function nextFireTimes(
  expression: string,
  timeZone: string,
  after: Date,
  count: number,
): Date[] {
  return remembered(`next|${expression}|${timeZone}|${after.getTime()}|${count}`, () =>
    computeNextFireTimes(expression, timeZone, after, count),
  );
}

function computeNextFireTimes(
  expression: string,
  timeZone: string,
  after: Date,
  count: number,
): Date[] {
  // cron-parser's own time-zone handling drops fires in a spring-forward gap and can fail in a
  // fall-back overlap, so the expression is evaluated on the wall clock (as UTC) and each wall
  // time is turned into the instant it means; instants must strictly increase, which folds
  // wall times that land on the same or an earlier instant into one fire.
  // Wall times in a gap map forward, so the search starts a few hours earlier on the wall clock
  // (more than any daylight-saving shift) and drops what falls at or before `after`.
  const schedule = CronExpressionParser.parse(expression, {
    tz: 'UTC',
    currentDate: new Date(wallClockOf(after, timeZone).getTime() - dstMargin(after, timeZone)),
  });
  const times: Date[] = [];
  let last = after.getTime();
  while (times.length < count && schedule.hasNext()) {
    const instant = instantOf(schedule.next().toDate(), timeZone);
    if (instant.getTime() <= last) continue;
    times.push(instant);
    last = instant.getTime();
  }
  return times;
}

/**
 * The last `count` fire times at or before `atOrBefore`, newest first (same wall-clock rules as
 * `nextFireTimes`), none before `notBefore`. Lets the ticker look back over an outage in bounded
 * time.
 */
export function previousFireTimes(
  expression: string,
  timeZone: string,
  atOrBefore: Date,
  count: number,
  notBefore: Date,
): Date[] {
  const key = `previous|${expression}|${timeZone}|${atOrBefore.getTime()}|${count}|${notBefore.getTime()}`;
  return remembered(key, () =>
    computePreviousFireTimes(expression, timeZone, atOrBefore, count, notBefore),
  );
}

function computePreviousFireTimes(
  expression: string,
  timeZone: string,
  atOrBefore: Date,
  count: number,
  notBefore: Date,
): Date[] {
  const schedule = CronExpressionParser.parse(expression, {
    tz: 'UTC',
    currentDate: new Date(
      wallClockOf(atOrBefore, timeZone).getTime() + dstMargin(atOrBefore, timeZone) + 1,
    ),
  });
  const times: Date[] = [];
  let last = atOrBefore.getTime() + 1;
  while (times.length < count && schedule.hasPrev()) {
    const instant = instantOf(schedule.prev().toDate(), timeZone);
    if (instant.getTime() >= last) continue;
    if (instant < notBefore) break;
    times.push(instant);
    last = instant.getTime();
  }
  return times;
}

/** Results of the last evaluations, at most 10,000. */
const recentResults = new BoundedMap<string, readonly number[]>(10_000);

/**
 * Evaluating a schedule costs about half a millisecond (cron-parser and the wall-clock
 * conversions), and tasks that fire together mostly share their expression and their last fire:
 * the ticker saw 10,000 tasks due in the same second cost five seconds of planning. The
 * functions are pure, so a bounded memo of recent answers is exact.
 */
function remembered(key: string, compute: () => Date[]): Date[] {
  let times = recentResults.get(key);
  if (times === undefined) {
    times = compute().map((time) => time.getTime());
    recentResults.set(key, times);
  }
  return times.map((time) => new Date(time));
}

/**
 * How far the wall-clock search must reach past an instant: a few hours around a
 * daylight-saving change (wall times there map to instants out of order), else nothing, so that
 * a frequent schedule is not walked through hours of fires.
 */
function dstMargin(instant: Date, timeZone: string): number {
  const margin = 3 * 3600_000;
  const before = instantOffset(instant.getTime() - margin, timeZone);
  const after = instantOffset(instant.getTime() + margin, timeZone);
  return before === after ? 0 : margin;
}

function instantOffset(instant: number, timeZone: string): number {
  return wallClockOf(new Date(instant), timeZone).getTime() - instant;
}

/** The first fire time strictly after `after`, or null when the expression never fires again. */
export function nextFireTime(expression: string, timeZone: string, after: Date): Date | null {
  return nextFireTimes(expression, timeZone, after, 1)[0] ?? null;
}
