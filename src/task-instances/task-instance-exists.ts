import type { EntityManager } from '@mikro-orm/postgresql';
import { NotFoundError } from '../shared/app-error.js';
import { TaskInstance } from './task-instance.entity.js';

/** For subscriptions to one run: NOT_FOUND at once, rather than a stream that never sends. */
export async function assertTaskInstanceExists(em: EntityManager, id: string): Promise<void> {
  if ((await em.count(TaskInstance, { id })) === 0) throw new NotFoundError('TaskInstance', id);
}
