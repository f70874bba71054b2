import type { AddressedRow } from '../executor-protocol/pending-message.js';
import { channels } from '../pubsub/channels.js';
import type { NotificationBus } from '../pubsub/notification-bus.js';

/** Where assignments go once committed (the streams of the executors connected here). */
export interface AssignmentSink {
  /** Returns the executors it has no stream for. */
  deliver(rows: readonly AddressedRow[]): Set<number>;
}

/**
 * Tells committed assignments to their executors: the streams connected to this server send
 * them now, the other replicas are told which executors to read theirs for, and the runs'
 * watchers hear of them. For the dispatcher's passes and for runs placed as they are created.
 */
export function announceAssignments(
  assigned: readonly AddressedRow[],
  sink: AssignmentSink,
  bus: NotificationBus,
): void {
  if (assigned.length === 0) return;
  const elsewhere = sink.deliver(assigned);
  for (const executorId of new Set(assigned.map((row) => row.executor_id))) {
    if (elsewhere.has(executorId)) bus.publish(channels.assignments, String(executorId));
    else bus.publishElsewhere(channels.assignments, String(executorId));
  }
  for (const row of assigned) bus.publish(channels.instances, row.id);
}
