import { Arg, Args, Authorized, Ctx, Query, Resolver } from 'type-graphql';
import type { RequestContext } from '../server/context.js';
import { Connection, PageArgs, type Page } from '../shared/pagination.js';
import { UserRole } from '../users/user-role.js';
import { AuditEntry } from './audit-entry.entity.js';
import { AuditFilter } from './audit.inputs.js';

const AuditEntryConnection = Connection(AuditEntry, 'AuditEntry');

@Resolver(() => AuditEntry)
export class AuditResolver {
  @Authorized(UserRole.ADMIN)
  @Query(() => AuditEntryConnection, { description: 'The audit trail, newest first. Admins only.' })
  auditEntries(
    @Args(() => PageArgs) page: PageArgs,
    @Arg('filter', () => AuditFilter, { nullable: true }) filter: AuditFilter | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<Page<AuditEntry>> {
    return ctx.services.audit.list(ctx, filter, page);
  }
}
