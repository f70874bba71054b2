import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/**
 * The server's RS256 key for access tokens, generated on first start when
 * GRAPHCRON_JWT_PRIVATE_KEY is not set, and shared by every replica through the database.
 */
@Entity({ tableName: 'signing_keys' })
export class SigningKey {
  @PrimaryKey({ type: 'string', length: 64 })
  kid!: string;

  @Property({ type: 'text', hidden: true })
  privateKeyPem!: string;

  @Property({ type: 'datetime', defaultRaw: 'now()' })
  createdAt: Date = new Date();
}
