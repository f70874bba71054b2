import type { EntityDictionary } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entitiesFromRows } from '../../../src/database/row-entities.js';
import { query } from '../../../src/database/sql.js';
import { TaskInstance } from '../../../src/task-instances/task-instance.entity.js';
import { Task } from '../../../src/tasks/task.entity.js';
import { CreateTaskDocument, RunTaskDocument, RunTasksDocument } from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { httpTaskWithEveryField, shellTask } from '../tasks/fixtures.js';

/** Every property of a run as the API reads it (a reference by its id). */
function properties(server: TestServer, instance: TaskInstance): Record<string, unknown> {
  const meta = server.app.orm.getMetadata().get(TaskInstance);
  return Object.fromEntries(
    meta.props.map((prop) => {
      const value = (instance as unknown as Record<string, unknown>)[prop.name];
      const id = (value as { id?: unknown } | null)?.id;
      return [prop.name, prop.kind === 'm:1' ? (id ?? null) : value];
    }),
  );
}

/** Runs made from rows without the ORM are what the ORM makes of the same rows. */
describe('entities from rows', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  it('equal em.map for every property of runs of HTTP and SHELL tasks, with overrides', async () => {
    const { createTask: http } = await admin.data(CreateTaskDocument, {
      input: httpTaskWithEveryField('mapped http'),
    });
    const { createTask: shell } = await admin.data(CreateTaskDocument, {
      input: shellTask({ name: 'mapped shell', env: [], overlapPolicy: 'WAIT' }),
    });
    const { runTask } = await admin.data(RunTaskDocument, { id: http.id });
    const { runTasks } = await admin.data(RunTasksDocument, {
      runs: [
        { taskId: shell.id },
        { taskId: shell.id, overrides: { arguments: ['it is'], env: [{ name: 'A', value: 'b' }] } },
      ],
    });
    const ids = [runTask.id, ...runTasks.map((run) => run.id)];
    const em = server.app.orm.em.fork();
    const rows = await query<EntityDictionary<TaskInstance>>(
      em,
      'select * from task_instances where id = any($1::bigint[]) order by id',
      [ids],
    );
    expect(rows).toHaveLength(3);
    const fast = entitiesFromRows(em.fork(), TaskInstance, rows);
    const mapped = rows.map((row) => em.fork().map(TaskInstance, { ...row }));
    for (const [index, instance] of fast.entries()) {
      expect(instance).toBeInstanceOf(TaskInstance);
      expect(properties(server, instance)).toEqual(properties(server, mapped[index]!));
    }
    // What the assertions compare holds values of every kind the table has.
    const first = properties(server, fast[0]!);
    expect(first.task).toBe(Number(http.id));
    expect(first.httpRequest).toMatchObject({ method: 'POST' });
    expect(first.createdAt).toBeInstanceOf(Date);
    expect(typeof first.id).toBe('string');
    // A later caller's runs reference the task in that caller's context, not the first one's.
    const later = em.fork();
    const [again] = entitiesFromRows(later, TaskInstance, [rows[0]!]);
    expect(again!.task).toBe(later.getReference(Task, Number(http.id)));
    // ...made when first read: a caller that only answers the run's id makes none.
    const unread = em.fork();
    const [run] = entitiesFromRows(unread, TaskInstance, [rows[0]!]);
    expect(unread.getUnitOfWork().getIdentityMap().values()).toHaveLength(0);
    expect(run!.task?.id).toBe(Number(http.id));
    expect(unread.getUnitOfWork().getIdentityMap().values()).toHaveLength(1);
    run!.task = null;
    expect(run!.task).toBeNull();
  });
});
