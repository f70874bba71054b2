import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../database/sql.js';
import type { Principal } from '../auth/principal.js';
import { AuditEntry, type AuditChanges } from './audit-entry.entity.js';

export type Snapshot = Record<string, unknown>;

const secretField = /password|secret|token|privatekey/i;
export const redacted = '[REDACTED]';

/** What a request knows about itself, for the audit trail. */
export interface AuditActor {
  principal: Principal | null;
  requestId: string;
}

/**
 * Adds an audit entry to the unit of work of `em`, so it is written in the same transaction as
 * the change it describes: both land, or neither. Only changed fields are recorded.
 */
export function recordAudit(
  em: EntityManager,
  actor: AuditActor,
  change: {
    action: string;
    entityType: string;
    entityId: string | number;
    before: Snapshot | null;
    after: Snapshot | null;
  },
): void {
  const entry = new AuditEntry();
  entry.actorId = actor.principal?.userId ?? null;
  entry.actorName = actor.principal?.username ?? 'system';
  entry.action = change.action;
  entry.entityType = change.entityType;
  entry.entityId = String(change.entityId);
  entry.changes = diff(change.before, change.after);
  entry.requestId = actor.requestId;
  em.persist(entry);
}

/** One entry of `insertAudits`: `changes` as `diff` made them. */
export interface AuditRecord {
  action: string;
  entityType: string;
  entityId: string | number;
  changes: AuditChanges;
}

/**
 * `recordAudit` for many changes at once, written now with one statement (in the transaction of
 * `em`) rather than through the unit of work: `runTasks` records up to 1,000 entries, and an
 * entity per entry cost more than creating the runs. Entries that share one `changes` object
 * (the runs of one task: the same snapshot) share its JSON, made and sent once.
 */
export async function insertAudits(
  em: EntityManager,
  actor: AuditActor,
  records: readonly AuditRecord[],
): Promise<void> {
  if (records.length === 0) return;
  const changeIndex = new Map<AuditChanges, number>();
  const changes: string[] = [];
  const changeOf = records.map((record) => {
    let index = changeIndex.get(record.changes);
    if (index === undefined) {
      index = changes.push(JSON.stringify(record.changes));
      changeIndex.set(record.changes, index);
    }
    return index;
  });
  await query(
    em,
    `insert into audit_entries
       (actor_id, actor_name, action, entity_type, entity_id, changes, request_id, created_at)
     select $1, $2, c.action, c.entity_type, c.entity_id, ($7::jsonb[])[c.change], $3, now()
       from unnest($4::text[], $5::text[], $6::text[], $8::int[])
            as c(action, entity_type, entity_id, change)`,
    [
      actor.principal?.userId ?? null,
      actor.principal?.username ?? 'system',
      actor.requestId,
      records.map((record) => record.action),
      records.map((record) => record.entityType),
      records.map((record) => String(record.entityId)),
      changes,
      changeOf,
    ],
    { prepare: true },
  );
}

export function diff(before: Snapshot | null, after: Snapshot | null): AuditChanges {
  const changes: AuditChanges = {};
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  for (const key of keys) {
    const from = normalise(before?.[key]);
    const to = normalise(after?.[key]);
    if (JSON.stringify(from) === JSON.stringify(to)) continue;
    changes[key] = secretField.test(key)
      ? {
          before: before && key in before ? redacted : null,
          after: after && key in after ? redacted : null,
        }
      : { before: before ? from : null, after: after ? to : null };
  }
  return changes;
}

function normalise(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  return value ?? null;
}
