import { describe, expect, it } from 'vitest';
import { planFires, type DueTask } from '../../../src/scheduler/fire-plan.js';
import { nextScheduledFire } from '../../../src/tasks/task-schedule.js';
import { FrequencyMode } from '../../../src/tasks/frequency-mode.js';
import { MisfirePolicy, OverlapPolicy } from '../../../src/tasks/schedule-policies.js';

const options = { misfireThresholdMs: 5_000, maxFires: 1_000 };

function task(overrides: Partial<DueTask>): DueTask {
  return {
    cronExpression: '* * * * * *',
    timeZone: 'UTC',
    nextFireAt: new Date('2026-01-01T00:00:00Z'),
    frequency: FrequencyMode.REPEAT,
    frequencyTimes: null,
    firedCount: 0,
    misfirePolicy: MisfirePolicy.SKIP,
    overlapPolicy: OverlapPolicy.WAIT,
    maxParallelRuns: 1000,
    activeFrom: null,
    activeUntil: null,
    activeRuns: 0,
    ...overrides,
  };
}

/**
 * A fake clock that wakes the ticker 200 ms after every fire, as the real loop does, from
 * `from` to `until`: returns the fire times that became runs.
 */
function simulate(cronExpression: string, timeZone: string, from: string, until: string): Date[] {
  const end = new Date(until);
  const runs: Date[] = [];
  let next = nextScheduledFire(
    { ...task({ cronExpression, timeZone }), isEnabled: true },
    new Date(from),
  );
  let firedCount = 0;
  while (next && next <= end) {
    const now = new Date(next.getTime() + 200);
    const plan = planFires(
      task({ cronExpression, timeZone, nextFireAt: next, firedCount }),
      now,
      options,
    );
    runs.push(...plan.fires.filter((f) => f.skipReason === null).map((f) => f.scheduledAt));
    firedCount += plan.runs;
    next = plan.nextFireAt;
  }
  return runs;
}

const localDay = (date: Date, timeZone: string) => date.toLocaleDateString('en-CA', { timeZone });

describe('cron over daylight-saving changes (fake clock)', () => {
  const zones = [
    { zone: 'America/New_York', spring: '2026-03-08', fall: '2026-11-01' },
    { zone: 'Europe/Berlin', spring: '2026-03-29', fall: '2026-10-25' },
  ];
  for (const { zone, spring, fall } of zones) {
    const around = (day: string, days: number) => {
      const noon = new Date(`${day}T12:00:00Z`).getTime();
      return [
        new Date(noon - days * 86_400_000).toISOString(),
        new Date(noon + days * 86_400_000).toISOString(),
      ] as const;
    };

    it(`${zone}: a daily job in the skipped hour fires once on the spring day`, () => {
      const runs = simulate('0 30 2 * * *', zone, ...around(spring, 3));
      const days = runs.map((r) => localDay(r, zone));
      expect(days).toEqual([...new Set(days)]); // never twice a day
      expect(days).toContain(spring); // and not lost on the short day
      expect(runs).toHaveLength(6);
    });

    it(`${zone}: a daily job in the repeated hour fires once on the fall day`, () => {
      const hour = zone === 'America/New_York' ? 1 : 2;
      const runs = simulate(`0 30 ${hour} * * *`, zone, ...around(fall, 3));
      const days = runs.map((r) => localDay(r, zone));
      expect(days).toEqual([...new Set(days)]);
      expect(days).toContain(fall);
      expect(runs).toHaveLength(6);
    });

    it(`${zone}: an hourly job fires once per local hour across both changes`, () => {
      for (const day of [spring, fall]) {
        const runs = simulate('0 15 * * * *', zone, ...around(day, 1));
        const localHours = runs.map((r) =>
          r.toLocaleString('en-CA', { timeZone: zone, hour12: false }).slice(0, 14),
        );
        expect(localHours).toEqual([...new Set(localHours)]); // the repeated hour fires once
        const gaps = runs.slice(1).map((r, i) => r.getTime() - runs[i]!.getTime());
        // Every real hour, except across the repeated local hour, which fires only once.
        expect(new Set(gaps)).toEqual(
          day === spring ? new Set([3_600_000]) : new Set([3_600_000, 7_200_000]),
        );
      }
    });
  }
});

describe('fire planning', () => {
  const now = new Date('2026-01-01T00:00:10.100Z');

  it('misfire SKIP: fires older than the threshold are recorded skipped, recent ones run', () => {
    const plan = planFires(task({ nextFireAt: new Date('2026-01-01T00:00:00Z') }), now, options);
    expect(
      plan.fires.filter((f) => f.skipReason).map((f) => f.scheduledAt.getUTCSeconds()),
    ).toEqual([0, 1, 2, 3, 4, 5]);
    expect(
      plan.fires.filter((f) => !f.skipReason).map((f) => f.scheduledAt.getUTCSeconds()),
    ).toEqual([6, 7, 8, 9, 10]);
    expect(plan.fires[0]!.skipReason).toMatch(/misfire/);
    expect(plan.nextFireAt).toEqual(new Date('2026-01-01T00:00:11Z'));
  });

  it('misfire FIRE_ONCE: one run stands for all the missed fires', () => {
    const plan = planFires(
      task({
        nextFireAt: new Date('2026-01-01T00:00:00Z'),
        misfirePolicy: MisfirePolicy.FIRE_ONCE,
      }),
      now,
      options,
    );
    const ran = plan.fires.filter((f) => !f.skipReason).map((f) => f.scheduledAt.getUTCSeconds());
    expect(ran).toEqual([5, 6, 7, 8, 9, 10]);
    expect(plan.fires.filter((f) => f.skipReason)).toHaveLength(5);
  });

  it('overlap SKIP at maxParallelRuns records the fire as skipped', () => {
    const plan = planFires(
      task({
        nextFireAt: new Date('2026-01-01T00:00:10Z'),
        overlapPolicy: OverlapPolicy.SKIP,
        maxParallelRuns: 1,
        activeRuns: 1,
      }),
      now,
      options,
    );
    expect(plan.fires).toEqual([
      {
        scheduledAt: new Date('2026-01-01T00:00:10Z'),
        skipReason: expect.stringMatching(/overlap/),
      },
    ]);
    expect(plan.runs).toBe(0);
  });

  it('frequency ONCE and TIMES stop the schedule', () => {
    const once = planFires(
      task({ nextFireAt: new Date('2026-01-01T00:00:10Z'), frequency: FrequencyMode.ONCE }),
      now,
      options,
    );
    expect(once).toMatchObject({ runs: 1, nextFireAt: null });
    const times = planFires(
      task({
        nextFireAt: new Date('2026-01-01T00:00:08Z'),
        frequency: FrequencyMode.TIMES,
        frequencyTimes: 5,
        firedCount: 3,
      }),
      now,
      options,
    );
    expect(times.runs).toBe(2);
    expect(times.nextFireAt).toBeNull();
    expect(times.fires.at(-1)!.skipReason).toMatch(/all its fires/);
  });

  it('respects the active window', () => {
    const windowed = task({
      nextFireAt: new Date('2026-01-01T00:00:08Z'),
      activeUntil: new Date('2026-01-01T00:00:09Z'),
    });
    const plan = planFires(windowed, now, options);
    expect(plan.fires.map((f) => f.scheduledAt.getUTCSeconds())).toEqual([8, 9]);
    expect(plan.nextFireAt).toBeNull();
    expect(
      nextScheduledFire(
        {
          ...task({ cronExpression: '0 0 * * * *', activeFrom: new Date('2026-02-01T05:30:00Z') }),
          isEnabled: true,
        },
        now,
      ),
    ).toEqual(new Date('2026-02-01T06:00:00Z'));
  });

  it('a long outage is bounded: at most one day is enumerated', () => {
    const plan = planFires(task({ nextFireAt: new Date('2025-06-01T00:00:00Z') }), now, options);
    expect(plan.fires.length).toBeLessThanOrEqual(options.maxFires + 6);
    expect(plan.fires[0]!.skipReason).toMatch(/not listed/);
  });
});
