import type { EntityManager } from '@mikro-orm/postgresql';
import { CompiledQuery } from 'kysely';

/**
 * Runs SQL with real bind parameters (`$1`, `$2`, …) on `em`'s connection, inside its
 * transaction if it has one. Arrays are sent as PostgreSQL arrays, which the hot paths need for
 * set-based statements (`unnest($1::bigint[], …)`); `em.execute` would inline them as lists.
 */
export async function query<Row>(
  em: EntityManager,
  text: string,
  params: readonly unknown[] = [],
): Promise<Row[]> {
  const result = await em.getKysely().executeQuery<Row>(CompiledQuery.raw(text, [...params]));
  return result.rows;
}
