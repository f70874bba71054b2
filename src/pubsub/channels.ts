/**
 * PostgreSQL NOTIFY channels. Each notification is a nudge naming what changed (an id), never
 * the data itself: listeners re-read the database, and polling covers a lost notification.
 * PostgreSQL folds identical notifications within one transaction into one.
 */
export const channels = {
  /** Payload: executor id. New assignments or cancellations for that executor. */
  assignments: 'graphcron_assignments',
  /** Payload: empty. Instances wait to be dispatched. */
  dispatch: 'graphcron_dispatch',
  /** Payload: instance id. Its status or fields changed. */
  instances: 'graphcron_instances',
  /** Payload: instance id. Log chunks were stored for it. */
  logs: 'graphcron_logs',
  /** Payload: executor id. Its online state or definition changed. */
  executors: 'graphcron_executors',
  /** Payload: user id. The user, or one of its sessions or API tokens, changed. */
  credentials: 'graphcron_credentials',
} as const;

export type Channel = (typeof channels)[keyof typeof channels];
