/**
 * Wall-clock arithmetic in IANA time zones, with `Intl` only. A wall-clock time is carried as a
 * Date whose UTC fields are the local fields (so 02:30 local is `…T02:30:00Z`).
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, format);
  }
  return format;
}

/** Zones whose wall clock is UTC itself: no conversion needed (the common case, and fast). */
const utcZones = new Set(['UTC', 'Etc/UTC', 'Etc/GMT', 'GMT', 'Etc/Universal', 'Etc/Zulu']);

/** The local wall-clock time of `instant` in `timeZone`. */
export function wallClockOf(instant: Date, timeZone: string): Date {
  if (utcZones.has(timeZone)) return new Date(instant.getTime());
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(instant)) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  const wall = Date.UTC(
    parts.year!,
    parts.month! - 1,
    parts.day!,
    parts.hour!,
    parts.minute!,
    parts.second!,
  );
  return new Date(wall + instant.getUTCMilliseconds());
}

/** Local time minus UTC at `instant`, in ms. */
function offsetAt(instant: number, timeZone: string): number {
  return wallClockOf(new Date(instant), timeZone).getTime() - instant;
}

/**
 * The instant a wall-clock time means. In an overlap (the hour that happens twice) it is the
 * first occurrence; in a gap (the hour that does not exist) it is read with the offset from
 * before the change, which lands it just after the gap (02:30 → 03:30 when clocks go 02:00 → 03:00).
 */
export function instantOf(wall: Date, timeZone: string): Date {
  const local = wall.getTime();
  if (utcZones.has(timeZone)) return new Date(local);
  const offsetBefore = offsetAt(local - 12 * 3600_000, timeZone);
  const offsetAfter = offsetAt(local + 12 * 3600_000, timeZone);
  const candidates = [local - offsetBefore, local - offsetAfter]
    .filter((instant) => wallClockOf(new Date(instant), timeZone).getTime() === local)
    .sort((a, b) => a - b);
  return new Date(candidates[0] ?? local - offsetBefore);
}
