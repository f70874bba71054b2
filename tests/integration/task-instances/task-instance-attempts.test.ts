import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RoundRobinTurns } from '../../../src/scheduler/round-robin-turns.js';
import { TaskInstance } from '../../../src/task-instances/task-instance.entity.js';
import { TaskInstanceService } from '../../../src/task-instances/task-instance.service.js';
import {
  CreateTaskDocument,
  RunTaskDocument,
  TaskInstanceAttemptsDocument,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { shellTask, sql } from '../tasks/fixtures.js';

/** Status codes, as stored. */
const ABNORMAL_ENDING = 3;
const UNKNOWN = 81;

describe('TaskInstance.attempts: the earlier attempts of a run', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  let taskId: string;
  /** Oldest first. */
  let runs: string[];
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: shellTask({ maxParallelRuns: 3 }),
    });
    taskId = createTask.id;
    runs = [];
    for (let i = 0; i < 3; i++) {
      runs.push((await admin.data(RunTaskDocument, { id: taskId })).runTask.id);
    }
    // Written by the retry code in production; inserted out of order here.
    const insert = (
      instanceId: string,
      attempt: number,
      status: number,
      exitCode: number | null,
      reason: string,
    ) =>
      sql(
        server,
        'insert into task_instance_attempts (instance_id, attempt, status, exit_code, ' +
          'executor_id, executor_name, dispatched_at, started_at, finished_at, status_reason) ' +
          "values (?, ?, ?, ?, 4, 'worker-4', '2026-05-01T10:00:00Z', '2026-05-01T10:00:01Z', " +
          "'2026-05-01T10:00:02Z', ?)",
        [instanceId, attempt, status, exitCode, reason],
      );
    await insert(runs[0]!, 2, UNKNOWN, null, 'executor lost');
    await insert(runs[0]!, 1, ABNORMAL_ENDING, 3, 'exit code 3');
    await insert(runs[2]!, 1, ABNORMAL_ENDING, 1, 'exit code 1');
    await sql(server, 'update task_instances set attempt = 3 where id = ?', [runs[0]]);
    await sql(server, 'update task_instances set attempt = 2 where id = ?', [runs[2]]);
  });
  afterAll(() => server?.stop());

  it('lists the earlier attempts of each run of a page, by attempt', async () => {
    const { taskInstances } = await admin.data(TaskInstanceAttemptsDocument, {
      filter: { taskId },
    });
    const byId = new Map(taskInstances.nodes.map((node) => [node.id, node]));
    expect(byId.get(runs[0]!)).toEqual({
      id: runs[0],
      attempt: 3,
      attempts: [
        {
          attempt: 1,
          status: 'ABNORMAL_ENDING',
          exitCode: 3,
          executorId: '4',
          executorName: 'worker-4',
          dispatchedAt: '2026-05-01T10:00:00.000Z',
          startedAt: '2026-05-01T10:00:01.000Z',
          finishedAt: '2026-05-01T10:00:02.000Z',
          statusReason: 'exit code 3',
        },
        expect.objectContaining({ attempt: 2, status: 'UNKNOWN', exitCode: null }),
      ],
    });
    expect(byId.get(runs[1]!)!.attempts).toEqual([]);
    expect(byId.get(runs[2]!)!.attempts).toEqual([
      expect.objectContaining({ attempt: 1, statusReason: 'exit code 1' }),
    ]);
  });

  it('loads the attempts of many runs with one query', async () => {
    const service = new TaskInstanceService({ next: () => '1' } as never, new RoundRobinTurns());
    const em = server.app.orm.em.fork();
    const find = vi.spyOn(em, 'find');
    const instances = runs.map((id) => em.getReference(TaskInstance, id));
    const attempts = await Promise.all(instances.map((i) => service.attemptsOf(em, i)));
    expect(attempts.map((list) => list.map((a) => a.attempt))).toEqual([[1, 2], [], [1]]);
    expect(find).toHaveBeenCalledTimes(1);
    // A later read is a new batch: it sees attempts written since.
    await sql(
      server,
      'insert into task_instance_attempts (instance_id, attempt, status) values (?, 1, ?)',
      [runs[1], UNKNOWN],
    );
    const again = await service.attemptsOf(em, instances[1]!);
    expect(again.map((a) => a.attempt)).toEqual([1]);
    expect(find).toHaveBeenCalledTimes(2);
  });
});
