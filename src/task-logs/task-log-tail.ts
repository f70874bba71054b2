import { Repeater } from '@graphql-yoga/subscription';
import type { EntityManager } from '@mikro-orm/postgresql';
import { channels } from '../pubsub/channels.js';
import type { NotificationBus } from '../pubsub/notification-bus.js';
import { TaskLog } from './task-log.entity.js';

const pageSize = 500;

/**
 * The log of one run: everything stored so far, then each new chunk as it is stored. It listens
 * before reading the backlog and reads after a cursor on (attempt, seq), so there is no gap and
 * no duplicate at the seam.
 */
export function tailTaskLog(
  em: EntityManager,
  bus: NotificationBus,
  instanceId: string,
): AsyncIterable<TaskLog> {
  return new Repeater<TaskLog>(async (push, stop) => {
    let nudged = true;
    let wake: () => void = () => undefined;
    const nudge = (): void => {
      nudged = true;
      wake();
    };
    const offLogs = bus.on(channels.logs, (payload) => {
      if (payload === instanceId) nudge();
    });
    const offReconnect = bus.onReconnect(nudge);
    // The backlog is read once chunks stored from now on are sure to nudge this tail.
    await bus.listening(channels.logs);
    let stopped = false;
    void stop.then(() => {
      stopped = true;
      wake();
    });
    let cursor = { attempt: -1, seq: -1 };
    try {
      while (!stopped) {
        if (!nudged) await new Promise<void>((resolve) => (wake = resolve));
        if (stopped) break;
        nudged = false;
        const rows = await em.fork().find(
          TaskLog,
          {
            instance: instanceId,
            $or: [
              { attempt: { $gt: cursor.attempt } },
              { attempt: cursor.attempt, seq: { $gt: cursor.seq } },
            ],
          },
          { orderBy: { attempt: 'asc', seq: 'asc' }, limit: pageSize },
        );
        for (const row of rows) {
          await push(row);
          cursor = { attempt: row.attempt, seq: row.seq };
        }
        if (rows.length === pageSize) nudged = true;
      }
    } finally {
      offLogs();
      offReconnect();
    }
  });
}
