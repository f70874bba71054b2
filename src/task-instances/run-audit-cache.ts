import type { AuditChanges } from '../audit/audit-entry.entity.js';
import { BoundedMap } from '../shared/bounded-map.js';

/** Tasks whose changes are kept, at most: the least recently stored go first. */
const maxTasks = 10_000;

/**
 * The audit changes of a `runTask` run without its own fields (`runAuditPerRunFields`), per
 * task, with the version of the task row they were made from: a digest of the whole row as
 * text. Two runs of an unchanged task have the same snapshot, so the statement that creates a
 * run takes these as they are when the locked row still has that digest, and makes them again
 * otherwise: making them in SQL was ~300 µs of PostgreSQL's CPU per `runTask` call (backend CPU
 * 840-890 µs per statement, ~540-600 µs with the changes given), a third of it. A digest of
 * the content rather than the row's `xmin`: transaction ids wrap around.
 */
export class RunAuditCache {
  private readonly byTask = new BoundedMap<number, { version: string; changes: string }>(maxTasks);

  /** The changes (JSON) made from `version` of the task's row, or null. */
  get(taskId: number): { version: string; changes: string } | null {
    return this.byTask.get(taskId) ?? null;
  }

  set(taskId: number, version: string, changes: AuditChanges): void {
    this.byTask.set(taskId, { version, changes: JSON.stringify(changes) });
  }
}
