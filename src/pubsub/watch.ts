import { Repeater } from '@graphql-yoga/subscription';
import type { Logger } from '../shared/logger.js';
import type { Channel } from './channels.js';
import type { NotificationBus } from './notification-bus.js';

/**
 * A subscription stream driven by notifications: on each matching payload, `load` re-reads the
 * database and what it returns is sent. Reads happen one at a time, in order.
 */
export function watch<T>(
  bus: NotificationBus,
  logger: Logger,
  channel: Channel,
  matches: (payload: string) => boolean,
  load: (payload: string) => Promise<T | null>,
): AsyncIterable<T> {
  return new Repeater<T>(async (push, stop) => {
    const queue: string[] = [];
    let wake: () => void = () => undefined;
    const off = bus.on(channel, (payload) => {
      if (!matches(payload)) return;
      if (!queue.includes(payload)) queue.push(payload);
      wake();
    });
    let stopped = false;
    void stop.then(() => {
      stopped = true;
      wake();
    });
    try {
      while (!stopped) {
        const payload = queue.shift();
        if (payload === undefined) {
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        const value = await load(payload).catch((error: unknown) => {
          logger.warn('subscription read failed', { channel, error });
          return null;
        });
        if (value !== null) await push(value);
      }
    } finally {
      off();
    }
  });
}
