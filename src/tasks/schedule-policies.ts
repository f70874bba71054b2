import { registerEnumType } from 'type-graphql';

/** What to do with fires missed while no scheduler ran (or it was far behind). */
export enum MisfirePolicy {
  SKIP = 'SKIP',
  FIRE_ONCE = 'FIRE_ONCE',
}

/** What a fire does when the task already has `maxParallelRuns` runs. */
export enum OverlapPolicy {
  SKIP = 'SKIP',
  WAIT = 'WAIT',
}

export enum RetryBackoff {
  FIXED = 'FIXED',
  EXPONENTIAL = 'EXPONENTIAL',
}

registerEnumType(MisfirePolicy, {
  name: 'MisfirePolicy',
  valuesConfig: {
    SKIP: { description: 'Missed fires are recorded as SKIPPED; the schedule goes on from now.' },
    FIRE_ONCE: { description: 'One run now for all missed fires (the rest are recorded SKIPPED).' },
  },
});

registerEnumType(OverlapPolicy, {
  name: 'OverlapPolicy',
  valuesConfig: {
    SKIP: {
      description: 'The fire is recorded as SKIPPED (a manual run is refused with CONFLICT).',
    },
    WAIT: { description: 'The run waits as SCHEDULED until a run of the task ends.' },
  },
});

registerEnumType(RetryBackoff, {
  name: 'RetryBackoff',
  valuesConfig: {
    FIXED: { description: '`retryIntervalSeconds` between attempts.' },
    EXPONENTIAL: {
      description:
        '`retryIntervalSeconds` doubled on each retry, with ±20% jitter, at most `retryMaxIntervalSeconds`.',
    },
  },
});
