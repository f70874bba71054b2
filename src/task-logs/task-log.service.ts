import type { FilterQuery } from '@mikro-orm/postgresql';
import type { RequestContext } from '../server/context.js';
import { ValidationError } from '../shared/app-error.js';
import { maxPageSize, type Page, type PageArgs } from '../shared/pagination.js';
import { integerInRange } from '../shared/validation.js';
import type { TaskInstance } from '../task-instances/task-instance.entity.js';
import { TaskLog } from './task-log.entity.js';

interface LogPosition {
  attempt: number;
  seq: number;
}

/**
 * Log cursors carry (attempt, seq), the order chunks are read in; a chunk id would not do,
 * because an executor replaying its outbox may store a chunk after later ones.
 */
export function encodeLogCursor(position: LogPosition): string {
  return Buffer.from(`log:${position.attempt}:${position.seq}`).toString('base64url');
}

export function decodeLogCursor(cursor: string): LogPosition {
  const match = /^log:(\d{1,9}):(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match?.[1] || !match[2]) {
    throw new ValidationError('after', 'after is not a log cursor this API returned.');
  }
  return { attempt: Number(match[1]), seq: Number(match[2]) };
}

/** Rules and queries for TaskLog. Chunks are written by executor reports (a later issue). */
export class TaskLogService {
  /**
   * A page of the run's output in (attempt, seq) order, optionally of one attempt only. Each
   * page is one range scan of the unique (instance, attempt, seq) index.
   */
  async list(
    ctx: RequestContext,
    instance: TaskInstance,
    attempt: number | null | undefined,
    page: PageArgs,
  ): Promise<Page<TaskLog>> {
    integerInRange('first', page.first, 1, maxPageSize);
    const where: FilterQuery<TaskLog> = { instance: instance.id };
    if (attempt !== undefined && attempt !== null) {
      where.attempt = integerInRange('attempt', attempt, 1, 2_147_483_647);
    }
    const after = page.after ? decodeLogCursor(page.after) : null;
    const range: FilterQuery<TaskLog> = after
      ? {
          $or: [
            { attempt: { $gt: after.attempt } },
            { attempt: after.attempt, seq: { $gt: after.seq } },
          ],
        }
      : {};
    const [rows, totalCount] = await Promise.all([
      ctx.em.find(
        TaskLog,
        { $and: [where, range] },
        { orderBy: [{ attempt: 'asc' }, { seq: 'asc' }], limit: page.first + 1 },
      ),
      ctx.em.count(TaskLog, where),
    ]);
    const nodes = rows.slice(0, page.first);
    const last = nodes.at(-1);
    return {
      nodes,
      totalCount,
      pageInfo: {
        hasNextPage: rows.length > page.first,
        endCursor: last ? encodeLogCursor(last) : null,
      },
    };
  }
}
