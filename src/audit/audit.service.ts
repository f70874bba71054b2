import type { FilterQuery } from '@mikro-orm/postgresql';
import type { RequestContext } from '../server/context.js';
import { ValidationError } from '../shared/app-error.js';
import { paginate, type Page, type PageArgs } from '../shared/pagination.js';
import { parseId } from '../shared/validation.js';
import { AuditEntry } from './audit-entry.entity.js';
import type { AuditFilter } from './audit.inputs.js';

/** Reads the audit trail; entries are written by `recordAudit` inside each change's transaction. */
export class AuditService {
  list(
    ctx: RequestContext,
    filter: AuditFilter | undefined,
    page: PageArgs,
  ): Promise<Page<AuditEntry>> {
    const where: FilterQuery<AuditEntry> = {};
    if (filter?.actorId) where.actorId = parseId('filter.actorId', filter.actorId);
    if (filter?.action) where.action = filter.action;
    if (filter?.entityType) where.entityType = filter.entityType;
    if (filter?.entityId) where.entityId = filter.entityId;
    if (filter?.since && filter.until && filter.since >= filter.until) {
      throw new ValidationError('filter.until', 'filter.until must be later than filter.since.');
    }
    if (filter?.since || filter?.until) {
      where.createdAt = {
        ...(filter.since ? { $gte: filter.since } : {}),
        ...(filter.until ? { $lt: filter.until } : {}),
      };
    }
    return paginate(ctx.em, AuditEntry, where, page, 'desc');
  }
}
