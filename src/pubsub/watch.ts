import { Repeater } from '@graphql-yoga/subscription';
import type { Logger } from '../shared/logger.js';
import type { Channel } from './channels.js';
import type { NotificationBus } from './notification-bus.js';

export interface WatchOptions<T> {
  /**
   * For a stream of one thing's state: the payload that reads it. It is read first, once the
   * LISTEN is in effect, so a change committed just before the subscription went live is not
   * missed; and again after each reconnect of the bus, which may have lost notifications.
   */
  current?: string;
  /** Reads with the same version are one state: only the first is sent. */
  versionOf?: (value: T) => string;
}

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
  options: WatchOptions<T> = {},
): AsyncIterable<T> {
  const { current, versionOf } = options;
  return new Repeater<T>(async (push, stop) => {
    const queue: string[] = [];
    let wake: () => void = () => undefined;
    const enqueue = (payload: string): void => {
      if (!queue.includes(payload)) queue.push(payload);
      wake();
    };
    const off = bus.on(channel, (payload) => {
      if (matches(payload)) enqueue(payload);
    });
    const offReconnect =
      current === undefined ? () => undefined : bus.onReconnect(() => enqueue(current));
    let stopped = false;
    void stop.then(() => {
      stopped = true;
      wake();
    });
    let lastVersion: string | undefined;
    try {
      if (current !== undefined) {
        await bus.listening(channel);
        enqueue(current);
      }
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
        if (value === null) continue;
        const version = versionOf?.(value);
        if (version !== undefined && version === lastVersion) continue;
        lastVersion = version;
        await push(value);
      }
    } finally {
      off();
      offReconnect();
    }
  });
}
