/**
 * The settings of a session function whose statements look rows up by key from arrays, so that
 * their one plan cannot go wrong with the table's size: a nested loop over the arrays with a
 * primary-key probe per element, made once per session and kept.
 *
 * Planned as a plain prepared statement, a generic plan made while task_instances was tiny (a
 * hash join over a sequential scan) was kept while it grew, and finish reports read the whole
 * table (117 buffers a call on average, against 31, in a bench's first minute). Planned at every
 * call instead, the finish statement spent 0.62 ms in the planner for 0.88 ms of execution
 * (pg_stat_statements, 500 runTask calls a second). With the joins that need no index switched
 * off, the probe is the one plan left. Sorts are off too: a read of the queue's head must use
 * the queue's index order, not read every waiting run by another index and sort them (a kept
 * plan did: 15 ms a call under the throughput bench's 20,000 waiting runs).
 */
export const keptProbePlan = `
set enable_seqscan = off
set enable_hashjoin = off
set enable_mergejoin = off
set enable_sort = off
set plan_cache_mode = force_generic_plan`;
