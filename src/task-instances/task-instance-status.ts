import { registerEnumType } from 'type-graphql';

/** Stored as the number; the seed's codes are kept where the seed has them. */
export enum TaskInstanceStatus {
  RUNNING = 1,
  FINISHED = 2,
  ABNORMAL_ENDING = 3,
  TIMEOUT_ENDING = 4,
  MANUAL_CANCELLATION = 5,
  SCHEDULED = 10,
  DISPATCHED = 11,
  SKIPPED = 12,
  UNKNOWN = 81,
}

export const finalStatuses: readonly TaskInstanceStatus[] = [
  TaskInstanceStatus.FINISHED,
  TaskInstanceStatus.ABNORMAL_ENDING,
  TaskInstanceStatus.TIMEOUT_ENDING,
  TaskInstanceStatus.MANUAL_CANCELLATION,
  TaskInstanceStatus.UNKNOWN,
  TaskInstanceStatus.SKIPPED,
];

/** Final statuses other than FINISHED: the runs a user looks for when something went wrong. */
export const unsuccessfulStatuses: readonly TaskInstanceStatus[] = finalStatuses.filter(
  (status) => status !== TaskInstanceStatus.FINISHED,
);

/** Statuses of a run that holds (or is about to hold) a slot on an executor. */
export const activeStatuses: readonly TaskInstanceStatus[] = [
  TaskInstanceStatus.SCHEDULED,
  TaskInstanceStatus.DISPATCHED,
  TaskInstanceStatus.RUNNING,
];

registerEnumType(TaskInstanceStatus, {
  name: 'TaskInstanceStatus',
  description: 'Where a run is in its life. `statusCode` on TaskInstance gives the number.',
  valuesConfig: {
    SCHEDULED: { description: '(10) Created, waiting for an eligible executor.' },
    DISPATCHED: {
      description: '(11) Assigned to an executor, which has not yet reported that it started.',
    },
    RUNNING: { description: '(1) The executor reported that it started.' },
    FINISHED: { description: '(2) Ended as expected (exit code 0 or the expected result).' },
    ABNORMAL_ENDING: { description: '(3) Ended with an unexpected exit code or result.' },
    TIMEOUT_ENDING: { description: '(4) Killed after running longer than its timeout.' },
    MANUAL_CANCELLATION: { description: '(5) Cancelled by a user.' },
    UNKNOWN: { description: '(81) Its executor was lost; the outcome is not known.' },
    SKIPPED: {
      description:
        '(12) A fire that did not run: missed while no scheduler ran, or the task had ' +
        '`maxParallelRuns` runs already (see `statusReason`).',
    },
  },
});
