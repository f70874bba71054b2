import { CompiledQuery, type DatabaseConnection } from 'kysely';
import { reportFunctionsSql } from '../executor-protocol/report-functions.sql.js';
import { pickExecutorFunctionSql } from '../scheduler/pick-executor.sql.js';
import { placeNewRunFunctionSql } from '../scheduler/placement.sql.js';

/**
 * The ORM's `onCreateConnection` hook: the temporary functions every session of the connection
 * pool has, created when the pool opens a connection, before its first query. Library boundary:
 * MikroORM types the connection `unknown`; it is kysely's connection for the `pg` client.
 */
export async function createSessionFunctions(connection: unknown): Promise<void> {
  await (connection as DatabaseConnection).executeQuery(
    CompiledQuery.raw(
      [reportFunctionsSql, pickExecutorFunctionSql, placeNewRunFunctionSql].join('\n'),
    ),
  );
}
