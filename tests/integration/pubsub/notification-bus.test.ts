import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channels } from '../../../src/pubsub/channels.js';
import {
  NotificationBus,
  notificationBusApplicationName,
} from '../../../src/pubsub/notification-bus.js';
import { createLogger } from '../../../src/shared/logger.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.js';

/** Resolves with the next payload `listen` hands over, or rejects after `timeoutMs`. */
function nextPayload(
  listen: (listener: (payload: string) => void) => () => void,
  timeoutMs = 5_000,
): { payload: Promise<string>; off: () => void } {
  let off: () => void = () => undefined;
  const payload = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no notification')), timeoutMs);
    off = listen((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
  return { payload, off };
}

describe('NotificationBus', () => {
  let database: TestDatabase;
  let bus: NotificationBus;
  let sender: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    bus = new NotificationBus(database.url, createLogger('error'));
    await bus.start();
    sender = new pg.Client({ connectionString: database.url });
    await sender.connect();
  });

  afterAll(async () => {
    await sender.end();
    await bus.stop();
    await database.drop();
  });

  const notify = (channel: string, payload: string) =>
    sender.query('select pg_notify($1, $2)', [channel, payload]);

  /** What the bus's own session last ran (its LISTENs, UNLISTENs and notifications). */
  const busSession = async () =>
    (
      await sender.query<{ pid: number; query: string }>(
        `select pid, query from pg_stat_activity
          where datname = current_database() and application_name = $1`,
        [notificationBusApplicationName],
      )
    ).rows;

  it('LISTENs on a channel while it has listeners, and only then', async () => {
    const first = nextPayload((listener) => bus.on(channels.instances, listener));
    await bus.listening(channels.instances);
    await notify(channels.instances, '41');
    expect(await first.payload).toBe('41');
    first.off();
    await expect
      .poll(busSession)
      .toEqual([expect.objectContaining({ query: `UNLISTEN ${channels.instances}` })]);

    // Listened again for a new listener, which gets what is notified after `listening`.
    const second = nextPayload((listener) => bus.on(channels.instances, listener));
    await bus.listening(channels.instances);
    await notify(channels.instances, '42');
    expect(await second.payload).toBe('42');
    second.off();
  });

  it('publishes to every bus, identical notifications of one tick once, and flushes on stop', async () => {
    const other = new NotificationBus(database.url, createLogger('error'));
    await other.start();
    const received: string[] = [];
    const off = other.on(channels.dispatch, (payload) => received.push(payload));
    await other.listening(channels.dispatch);
    const heardHere: string[] = [];
    const offHere = bus.on(channels.dispatch, (payload) => heardHere.push(payload));
    await bus.listening(channels.dispatch);
    bus.publish(channels.dispatch, '5');
    bus.publish(channels.dispatch, '5');
    bus.publish(channels.dispatch, '6');
    await expect.poll(() => [...received].sort()).toEqual(['5', '6']);
    // Heard here at once, and not again when PostgreSQL sends it back.
    expect(heardHere).toEqual(['5', '6']);
    await notify(channels.dispatch, 'after');
    await expect.poll(() => heardHere).toContain('after');
    expect(heardHere).toEqual(['5', '6', 'after']);
    offHere();

    // What is published right before stop still goes out.
    const publisher = new NotificationBus(database.url, createLogger('error'));
    await publisher.start();
    publisher.publish(channels.dispatch, '7');
    await publisher.stop();
    await expect.poll(() => received).toContain('7');
    expect(received.filter((payload) => payload === '5')).toHaveLength(1);
    off();
    await other.stop();
  });

  it('publishes elsewhere to the other buses only', async () => {
    const other = new NotificationBus(database.url, createLogger('error'));
    await other.start();
    const received: string[] = [];
    const off = other.on(channels.assignments, (payload) => received.push(payload));
    await other.listening(channels.assignments);
    const heardHere: string[] = [];
    const offHere = bus.on(channels.assignments, (payload) => heardHere.push(payload));
    await bus.listening(channels.assignments);
    bus.publishElsewhere(channels.assignments, '8');
    bus.publish(channels.assignments, '9');
    await expect.poll(() => [...received].sort()).toEqual(['8', '9']);
    await notify(channels.assignments, 'after');
    await expect.poll(() => heardHere).toContain('after');
    expect(heardHere).toEqual(['9', 'after']);
    offHere();
    off();
    await other.stop();
  });

  it('LISTENs again after its connection is lost, on the channels that have listeners', async () => {
    const logs = nextPayload((listener) => bus.on(channels.logs, listener));
    await bus.listening(channels.logs);
    const reconnected = new Promise<void>((resolve) => {
      const off = bus.onReconnect(() => {
        off();
        resolve();
      });
    });
    const [session] = await busSession();
    await sender.query('select pg_terminate_backend($1)', [session!.pid]);
    await reconnected;
    await bus.listening(channels.logs);
    await notify(channels.logs, '7');
    expect(await logs.payload).toBe('7');
    logs.off();
  });
});
