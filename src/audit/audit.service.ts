/** Rules and transactions for AuditEntry. */
export class AuditService {}
