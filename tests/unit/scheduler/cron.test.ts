import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/shared/app-error.js';
import {
  nextFireTime,
  nextFireTimes,
  validateCronExpression,
  validateTimeZone,
} from '../../../src/scheduler/cron.js';

const iso = (dates: Date[]): string[] => dates.map((date) => date.toISOString());

/** The ValidationError `work` throws, asserting that it throws one. */
function validationError(work: () => unknown): ValidationError {
  try {
    work();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

describe('validateCronExpression', () => {
  it('accepts 5 fields, and 6 with a leading seconds field, normalising the spacing', () => {
    expect(validateCronExpression('f', '*/5 * * * *')).toBe('*/5 * * * *');
    expect(validateCronExpression('f', '  0 30  2 * * MON-FRI ')).toBe('0 30 2 * * MON-FRI');
    expect(validateCronExpression('f', '0 9 * JAN THU')).toBe('0 9 * JAN THU');
  });

  it.each([
    ['4 fields', '* * * *', /must have 5 fields .* has 4/],
    ['7 fields', '0 0 0 * * * 2026', /must have 5 fields .* has 7/],
    ['an alias', '@daily', /has 1/],
    ['an empty string', '   ', /has 0/],
    ['a value out of range', '61 * * * *', /not a cron expression that can fire/],
    ['letters', 'a b c d e', /not a cron expression that can fire/],
    ['a date that never comes (30 February)', '0 0 30 2 *', /can fire/],
    ['a hashed value', 'H 3 * * *', /hashed values \(H\)/],
  ])('refuses %s', (_, expression, message) => {
    const error = validationError(() => validateCronExpression('input.cronExpression', expression));
    expect(error.field).toBe('input.cronExpression');
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.message).toMatch(message);
  });
});

describe('validateTimeZone', () => {
  it('accepts IANA names and UTC, fixing the letter case', () => {
    expect(validateTimeZone('tz', 'UTC')).toBe('UTC');
    expect(validateTimeZone('tz', 'Europe/Berlin')).toBe('Europe/Berlin');
    expect(validateTimeZone('tz', 'america/new_york')).toBe('America/New_York');
    expect(validateTimeZone('tz', 'Etc/GMT+5')).toBe('Etc/GMT+5');
  });

  it.each(['Mars/Olympus_Mons', '+05:00', '', 'Europe/Berlin; drop table tasks'])(
    'refuses %j',
    (timeZone) => {
      const error = validationError(() => validateTimeZone('input.timeZone', timeZone));
      expect(error.field).toBe('input.timeZone');
      expect(error.message).toMatch(/IANA time zone/);
    },
  );
});

describe('nextFireTimes', () => {
  it('counts strictly after the reference time, in UTC', () => {
    expect(iso(nextFireTimes('0 * * * *', 'UTC', new Date('2026-01-01T10:00:00Z'), 3))).toEqual([
      '2026-01-01T11:00:00.000Z',
      '2026-01-01T12:00:00.000Z',
      '2026-01-01T13:00:00.000Z',
    ]);
  });

  it('reads a leading seconds field', () => {
    expect(
      iso(nextFireTimes('*/20 * * * * *', 'UTC', new Date('2026-01-01T10:00:05Z'), 4)),
    ).toEqual([
      '2026-01-01T10:00:20.000Z',
      '2026-01-01T10:00:40.000Z',
      '2026-01-01T10:01:00.000Z',
      '2026-01-01T10:01:20.000Z',
    ]);
  });

  it('America/New_York spring gap (2026-03-08): 02:30 does not exist, so it fires once, at 03:30 EDT', () => {
    const times = nextFireTimes(
      '30 2 * * *',
      'America/New_York',
      new Date('2026-03-06T12:00:00Z'),
      4,
    );
    expect(iso(times)).toEqual([
      '2026-03-07T07:30:00.000Z', // 02:30 EST (UTC-5)
      '2026-03-08T07:30:00.000Z', // 03:30 EDT: the first instant after the gap
      '2026-03-09T06:30:00.000Z', // 02:30 EDT (UTC-4)
      '2026-03-10T06:30:00.000Z',
    ]);
    const onGapDay = times.filter((time) => time.toISOString().startsWith('2026-03-08'));
    expect(onGapDay).toHaveLength(1);
  });

  it('America/New_York fall overlap (2026-11-01): 01:30 happens twice and fires once', () => {
    expect(
      iso(nextFireTimes('30 1 * * *', 'America/New_York', new Date('2026-10-31T12:00:00Z'), 3)),
    ).toEqual([
      '2026-11-01T05:30:00.000Z', // 01:30 EDT, the first of the two; not 06:30Z (01:30 EST)
      '2026-11-02T06:30:00.000Z', // 01:30 EST
      '2026-11-03T06:30:00.000Z',
    ]);
  });

  it('America/New_York hourly across the gap has no 02:00 and no duplicate', () => {
    expect(
      iso(nextFireTimes('0 * * * *', 'America/New_York', new Date('2026-03-08T05:30:00Z'), 3)),
    ).toEqual([
      '2026-03-08T06:00:00.000Z', // 01:00 EST
      '2026-03-08T07:00:00.000Z', // 03:00 EDT
      '2026-03-08T08:00:00.000Z', // 04:00 EDT
    ]);
  });

  it('Europe/Berlin spring gap (2026-03-29) and fall overlap (2026-10-25) at 02:30', () => {
    expect(
      iso(nextFireTimes('30 2 * * *', 'Europe/Berlin', new Date('2026-03-28T12:00:00Z'), 2)),
    ).toEqual([
      '2026-03-29T01:30:00.000Z', // 03:30 CEST: 02:30 does not exist that day
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
    ]);
    expect(
      iso(nextFireTimes('30 2 * * *', 'Europe/Berlin', new Date('2026-10-24T12:00:00Z'), 2)),
    ).toEqual([
      '2026-10-25T00:30:00.000Z', // 02:30 CEST, once; not also 01:30Z (02:30 CET)
      '2026-10-26T01:30:00.000Z', // 02:30 CET
    ]);
  });

  it('nextFireTime gives the first fire only', () => {
    expect(nextFireTime('0 12 * * *', 'Europe/Berlin', new Date('2026-07-01T00:00:00Z'))).toEqual(
      new Date('2026-07-01T10:00:00Z'),
    );
  });
});
