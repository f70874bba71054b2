import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { CompiledQuery } from 'kysely';

/**
 * Runs SQL with real bind parameters (`$1`, `$2`, …) on `em`'s connection, inside its
 * transaction if it has one. Arrays are sent as PostgreSQL arrays, which the hot paths need for
 * set-based statements (`unnest($1::bigint[], …)`); `em.execute` would inline them as lists.
 *
 * `prepare`: the statement is prepared once per connection (named after its text), so that
 * PostgreSQL can keep a generic plan instead of planning every call: at 400 `runTask` calls a
 * second, the statements of a run's path spent as long in the planner as in execution
 * (`pg_stat_statements`). Only for statements whose best plan does not depend on their
 * parameters or on how big the tables are: the planner reads a table's current size at each
 * call, and the dispatcher's claim, planned once while the queue was short, kept that plan
 * under a 20,000-run queue (no-op throughput ~1,250-1,800 runs/s instead of ~2,000, even
 * with no parameters). Their texts must come in a bounded number of variants.
 */
export async function query<Row>(
  em: EntityManager,
  text: string,
  params: readonly unknown[] = [],
  options: { prepare?: boolean } = {},
): Promise<Row[]> {
  const sql = options.prepare ? preparedStatement(text) : text;
  const result = await em.getKysely().executeQuery<Row>(CompiledQuery.raw(sql, [...params]));
  return result.rows;
}

const statementNames = new Map<string, string>();

/**
 * Kysely hands `sql` to `pg`'s `client.query(sql, parameters)`, which takes a string or a query
 * config (`{ text, name }`: a name makes it a prepared statement). A String object carrying
 * both is either, as each needs. Library boundary: kysely's type says string.
 */
function preparedStatement(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `graphcron_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    statementNames.set(text, name);
  }
  return Object.assign(new String(text), { text, name }) as unknown as string;
}
