import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/** Failed-login counter per key (`user:<name>` or `addr:<ip>`), shared by every replica. */
@Entity({ tableName: 'login_throttles' })
export class LoginThrottle {
  @PrimaryKey({ type: 'string', length: 200 })
  key!: string;

  @Property({ type: 'integer' })
  failures!: number;

  @Property({ type: 'datetime' })
  windowStartedAt!: Date;
}
