import { Resolver } from 'type-graphql';
import { AuditEntry } from './audit-entry.entity.js';

@Resolver(() => AuditEntry)
export class AuditResolver {}
