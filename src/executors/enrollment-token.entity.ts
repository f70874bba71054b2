import { Entity, ManyToOne, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { ExecutorGroup } from '../executor-groups/executor-group.entity.js';
import { User } from '../users/user.entity.js';

/**
 * A one-time secret that lets a new executor register itself. Only its SHA-256 is stored; it is
 * consumed by one conditional UPDATE, so two executors racing with one token cannot both win.
 */
@Entity({ tableName: 'enrollment_tokens' })
export class EnrollmentToken {
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @Property({ type: 'string', length: 64, unique: true })
  tokenHash!: string;

  /** The group a registering executor is bound into, if any. */
  @ManyToOne(() => ExecutorGroup, { nullable: true, deleteRule: 'cascade' })
  group: ExecutorGroup | null = null;

  @ManyToOne(() => User, { nullable: true, deleteRule: 'set null' })
  createdBy: User | null = null;

  @Property({ type: 'datetime' })
  expiresAt!: Date;

  @Property({ type: 'datetime', nullable: true })
  usedAt: Date | null = null;

  @Property({ type: 'integer', nullable: true })
  usedByExecutorId: number | null = null;

  @Property({ type: 'datetime', defaultRaw: 'now()' })
  createdAt: Date = new Date();
}
