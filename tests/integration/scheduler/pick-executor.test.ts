import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  pickExecutorFunction,
  pickExecutorFunctionSql,
} from '../../../src/scheduler/pick-executor.sql.js';
import { pickExecutor, type Candidate } from '../../../src/scheduler/routing.js';
import { RoutingStrategy } from '../../../src/tasks/routing-strategy.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.js';

/** A deterministic pseudo-random sequence (the cases are the same at every run). */
function sequence(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/**
 * A run placed as runTask creates it is routed by PL/pgSQL (placement.sql.ts), a run placed by
 * a dispatch pass by TypeScript (routing.ts). Given the same candidates, turn and random number,
 * they must choose the same executor, for every strategy.
 */
describe('the executor a run is routed to, in SQL and in TypeScript', () => {
  let database: TestDatabase;
  let client: pg.Client;
  beforeAll(async () => {
    database = await createTestDatabase();
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query(pickExecutorFunctionSql);
  });
  afterAll(async () => {
    await client?.end();
    await database?.drop();
  });

  async function pickInSql(
    strategy: RoutingStrategy,
    candidates: readonly Candidate[],
    turn: number,
    random: number,
  ): Promise<number | null> {
    const { rows } = await client.query<{ executor_id: number | null }>(
      `select ${pickExecutorFunction}($1, $2::int[], $3::int[], $4::int[], $5::int[], $6::int[],
                                      $7, $8) as executor_id`,
      [
        strategy,
        candidates.map((c) => c.bindingId),
        candidates.map((c) => c.executorId),
        candidates.map((c) => c.weight),
        candidates.map((c) => c.active),
        candidates.map((c) => c.capacity),
        turn,
        random,
      ],
    );
    return rows[0]!.executor_id;
  }

  it('agrees with pickExecutor on 400 random candidate sets, for every strategy', async () => {
    const next = sequence(20261128);
    const below = (n: number): number => Math.floor(next() * n);
    const disagreements: string[] = [];
    let chosen = 0;
    for (let index = 0; index < 400; index++) {
      // Bindings in no particular order, some executors through two bindings, some full.
      const bindingIds = [...new Set(Array.from({ length: below(7) }, () => 1 + below(50)))];
      const candidates: Candidate[] = bindingIds.map((bindingId) => {
        const capacity = 1 + below(4);
        return {
          bindingId,
          executorId: 1 + below(5),
          weight: below(6),
          capacity,
          active: below(capacity + 1),
        };
      });
      const turn = below(40);
      const random = next();
      for (const strategy of Object.values(RoutingStrategy)) {
        const expected = pickExecutor(strategy, candidates, turn, () => random)?.executorId ?? null;
        const actual = await pickInSql(strategy, candidates, turn, random);
        if (expected !== null) chosen++;
        if (actual !== expected) {
          disagreements.push(
            `${strategy} turn ${turn} random ${random}: TypeScript ${expected}, SQL ${actual}, ` +
              JSON.stringify(candidates),
          );
        }
      }
    }
    expect(disagreements.slice(0, 5)).toEqual([]);
    // The cases are not all "no executor has room".
    expect(chosen).toBeGreaterThan(1_000);
  });

  it('chooses nobody when no candidate has room, or there is none', async () => {
    const full: Candidate[] = [{ bindingId: 1, executorId: 1, weight: 1, capacity: 2, active: 2 }];
    for (const strategy of Object.values(RoutingStrategy)) {
      expect(await pickInSql(strategy, full, 0, 0.5)).toBeNull();
      expect(await pickInSql(strategy, [], 0, 0.5)).toBeNull();
    }
  });
});
