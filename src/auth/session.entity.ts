import { Entity, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { User } from '../users/user.entity.js';

/**
 * A login: holds the hash of its current refresh token. Access tokens name their session (`sid`),
 * so revoking the session ends them too.
 */
@Entity({ tableName: 'sessions' })
export class Session {
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @ManyToOne(() => User, { deleteRule: 'cascade' })
  user!: User;

  /** SHA-256 (hex) of the current refresh token; rotated on every refresh. */
  @Property({ type: 'string', length: 64, unique: true })
  refreshTokenHash!: string;

  @Property({ type: 'datetime' })
  expiresAt!: Date;

  @Index()
  @Property({ type: 'datetime', nullable: true })
  revokedAt: Date | null = null;

  @Property({ type: 'datetime', defaultRaw: 'now()' })
  createdAt: Date = new Date();
}
