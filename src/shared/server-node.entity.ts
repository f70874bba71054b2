import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/**
 * A running server replica's lease on a snowflake machine id, so that replicas sharing a
 * database never mint the same id.
 */
@Entity({ tableName: 'server_nodes' })
export class ServerNode {
  @PrimaryKey({ type: 'smallint', autoincrement: false })
  machineId!: number;

  @Property({ type: 'uuid' })
  leaseHolder!: string;

  @Property({ type: 'string', length: 300 })
  hostname!: string;

  @Property({ type: 'datetime' })
  leaseExpiresAt!: Date;
}
