import type { EntityManager, FilterQuery } from '@mikro-orm/postgresql';
import { ExecutorBinding } from './executor-binding.entity.js';

/** Which end of the bindings to look them up by. */
export type BindingSide = 'group' | 'executor';

interface Batch {
  readonly ids: Set<number>;
  readonly loaded: Promise<Map<number, ExecutorBinding[]>>;
}

/**
 * Loads the bindings of many groups (or executors) with one query per tick instead of one per
 * parent, so a page of 50 groups asking for `bindings` costs one query, not 50. Batches are kept
 * per entity manager (that is, per request) and dropped once loaded: nothing is cached across
 * reads, so a mutation's result always shows the bindings as they are now.
 */
export class BindingsBatcher {
  private readonly pending = new WeakMap<EntityManager, Map<BindingSide, Batch>>();

  load(em: EntityManager, side: BindingSide, id: number): Promise<ExecutorBinding[]> {
    let batches = this.pending.get(em);
    if (!batches) {
      batches = new Map();
      this.pending.set(em, batches);
    }
    let batch = batches.get(side);
    if (!batch) {
      const openBatches = batches;
      const ids = new Set<number>();
      // GraphQL calls the field resolvers of every item of a list in the same tick, so waiting
      // one tick collects them all.
      const loaded = new Promise<void>((resolve) => process.nextTick(resolve)).then(() => {
        openBatches.delete(side);
        return fetchBindings(em, side, [...ids]);
      });
      batch = { ids, loaded };
      batches.set(side, batch);
    }
    batch.ids.add(id);
    return batch.loaded.then((byId) => byId.get(id) ?? []);
  }
}

async function fetchBindings(
  em: EntityManager,
  side: BindingSide,
  ids: number[],
): Promise<Map<number, ExecutorBinding[]>> {
  const where: FilterQuery<ExecutorBinding> =
    side === 'group' ? { group: { $in: ids } } : { executor: { $in: ids } };
  const bindings = await em.find(ExecutorBinding, where, { orderBy: { id: 'asc' } });
  const byId = new Map<number, ExecutorBinding[]>();
  for (const binding of bindings) {
    const key = binding[side].id;
    const list = byId.get(key);
    if (list) list.push(binding);
    else byId.set(key, [binding]);
  }
  return byId;
}
