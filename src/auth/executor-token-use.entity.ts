import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/**
 * The `jti` of every executor token seen, kept until the token expires: a token presented twice
 * is a replay. Rows past `expiresAt` are deleted by the reaper.
 */
@Entity({ tableName: 'executor_token_uses' })
export class ExecutorTokenUse {
  @PrimaryKey({ type: 'string', length: 128 })
  jti!: string;

  @Property({ type: 'integer' })
  executorId!: number;

  @Index()
  @Property({ type: 'datetime' })
  expiresAt!: Date;
}
