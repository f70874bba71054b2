import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateTaskDocument,
  NextFireTimesDocument,
  TaskDocument,
  UpdateTaskDocument,
  type CreateTaskInput,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { auditEntries, shellTask, sql } from './fixtures.js';

/*
 * The cron ticker runs in the test server: every schedule here fires in the future (an active
 * window in 2031, or yearly), so no fire happens while a test looks at it.
 */
describe('the next fire time within the active window, and the count of fires', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  const create = async (input: Partial<CreateTaskInput>) =>
    (await admin.data(CreateTaskDocument, { input: shellTask(input) })).createTask;

  const setFiredCount = (taskId: string, count: number) =>
    sql(server, 'update tasks set fired_count = ? where id = ?', [count, taskId]);

  /** The first fire of a yearly expression after now, as the preview computes it. */
  const nextYearly = async () =>
    (await admin.data(NextFireTimesDocument, { cronExpression: '0 0 1 1 *', count: 1 }))
      .nextFireTimes[0];

  it('fires first at or after activeFrom', async () => {
    const hourly = '0 * * * *';
    const between = await create({ cronExpression: hourly, activeFrom: '2031-03-10T10:30:00Z' });
    expect(between.nextFireAt).toBe('2031-03-10T11:00:00.000Z');
    const onAFire = await create({ cronExpression: hourly, activeFrom: '2031-03-10T10:00:00Z' });
    expect(onAFire.nextFireAt).toBe('2031-03-10T10:00:00.000Z');
    // In another time zone: 09:00 in Tokyo on 11 March is 00:00 UTC.
    const tokyo = await create({
      cronExpression: '0 9 * * *',
      timeZone: 'Asia/Tokyo',
      activeFrom: '2031-03-10T10:30:00Z',
    });
    expect(tokyo.nextFireAt).toBe('2031-03-11T00:00:00.000Z');
    // A start in the past does not hold the schedule back.
    const started = await create({
      cronExpression: '0 0 1 1 *',
      activeFrom: '2020-01-01T00:00:00Z',
    });
    expect(started.nextFireAt).toBe(await nextYearly());
  });

  it('has no next fire when it would be after activeUntil; a fire at activeUntil counts', async () => {
    const hourly = '0 * * * *';
    const closing = await create({
      cronExpression: hourly,
      activeFrom: '2031-03-10T10:30:00Z',
      activeUntil: '2031-03-10T10:59:59.999Z',
    });
    expect(closing.nextFireAt).toBeNull();
    const atTheEnd = await create({
      cronExpression: hourly,
      activeFrom: '2031-03-10T10:30:00Z',
      activeUntil: '2031-03-10T11:00:00Z',
    });
    expect(atTheEnd.nextFireAt).toBe('2031-03-10T11:00:00.000Z');
    const over = await create({ cronExpression: hourly, activeUntil: '2021-01-01T00:00:00Z' });
    expect(over.nextFireAt).toBeNull();
  });

  it('moving or clearing the window recomputes the next fire time', async () => {
    const task = await create({ cronExpression: '0 0 1 1 *', activeUntil: '2021-01-01T00:00:00Z' });
    expect(task.nextFireAt).toBeNull();
    const reopened = await admin.data(UpdateTaskDocument, {
      id: task.id,
      input: { activeUntil: null },
    });
    expect(reopened.updateTask.nextFireAt).toBe(await nextYearly());
    const postponed = await admin.data(UpdateTaskDocument, {
      id: task.id,
      input: { activeFrom: '2041-06-01T00:00:00Z' },
    });
    expect(postponed.updateTask.nextFireAt).toBe('2042-01-01T00:00:00.000Z');
    // The same instant again, written differently, is no change: nothing is recomputed.
    await sql(server, "update tasks set next_fire_at = '2050-01-01T00:00:00Z' where id = ?", [
      task.id,
    ]);
    const same = await admin.data(UpdateTaskDocument, {
      id: task.id,
      input: { activeFrom: '2041-06-01T02:00:00+02:00' },
    });
    expect(same.updateTask.nextFireAt).toBe('2050-01-01T00:00:00.000Z');
    const audit = await auditEntries(server, 'Task', task.id);
    expect(audit.at(-1)!.changes).toEqual({});
  });

  it('a disabled or manual task has no next fire time, whatever its window', async () => {
    const disabled = await create({
      cronExpression: '0 * * * *',
      activeFrom: '2031-03-10T10:30:00Z',
      isEnabled: false,
    });
    expect(disabled.nextFireAt).toBeNull();
    const manual = await create({ activeFrom: '2031-03-10T10:30:00Z' });
    expect(manual.nextFireAt).toBeNull();
  });

  it('a new expression, time zone or frequency counts fires anew; other edits keep the count', async () => {
    const window = { activeFrom: '2031-03-10T10:30:00Z' };
    const task = await create({ cronExpression: '0 * * * *', ...window });
    const firedCount = async () =>
      (await admin.data(TaskDocument, { id: task.id })).task.firedCount;
    await setFiredCount(task.id, 3);
    await admin.data(UpdateTaskDocument, {
      id: task.id,
      input: { name: 'renamed', priority: 3, activeUntil: '2031-12-01T00:00:00Z' },
    });
    await admin.data(UpdateTaskDocument, { id: task.id, input: { isEnabled: false } });
    await admin.data(UpdateTaskDocument, { id: task.id, input: { isEnabled: true } });
    // The same expression, spaced differently, is the same schedule.
    await admin.data(UpdateTaskDocument, { id: task.id, input: { cronExpression: '0  * * * *' } });
    expect(await firedCount()).toBe(3);

    const changes = [
      { cronExpression: '30 * * * *' },
      { timeZone: 'Europe/Berlin' },
      { frequency: 'TIMES' as const, frequencyTimes: 5 },
    ];
    for (const input of changes) {
      await setFiredCount(task.id, 3);
      const { updateTask } = await admin.data(UpdateTaskDocument, { id: task.id, input });
      expect(updateTask.firedCount).toBe(0);
      const audit = await auditEntries(server, 'Task', task.id);
      expect(audit.at(-1)!.changes.firedCount).toEqual({ before: 3, after: 0 });
    }
  });

  it('ONCE and TIMES tasks that have had their fires have no next fire time', async () => {
    const window = { cronExpression: '0 * * * *', activeFrom: '2031-03-10T10:30:00Z' };
    const once = await create({ ...window, frequency: 'ONCE' });
    expect(once.nextFireAt).toBe('2031-03-10T11:00:00.000Z');
    await setFiredCount(once.id, 1);
    await admin.data(UpdateTaskDocument, { id: once.id, input: { isEnabled: false } });
    const enabled = await admin.data(UpdateTaskDocument, {
      id: once.id,
      input: { isEnabled: true },
    });
    expect(enabled.updateTask).toMatchObject({ firedCount: 1, nextFireAt: null });

    const times = await create({ ...window, frequency: 'TIMES', frequencyTimes: 2 });
    await setFiredCount(times.id, 2);
    const used = await admin.data(UpdateTaskDocument, {
      id: times.id,
      input: { activeUntil: '2031-12-01T00:00:00Z' },
    });
    expect(used.updateTask.nextFireAt).toBeNull();
    // More fires allowed: the schedule goes on, and the fires so far still count.
    const more = await admin.data(UpdateTaskDocument, {
      id: times.id,
      input: { frequencyTimes: 3 },
    });
    expect(more.updateTask).toMatchObject({
      firedCount: 2,
      nextFireAt: '2031-03-10T11:00:00.000Z',
    });
  });
});
