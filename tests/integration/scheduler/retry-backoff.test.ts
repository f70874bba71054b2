import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../../../src/database/sql.js';
import {
  CreateTaskDocument,
  ExecutorBindingsDocument,
  ReportTaskFinishedDocument,
  RunTaskDocument,
  CreateExecutorGroupDocument,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { TestExecutor } from '../../helpers/test-executor.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';

/** The wait before each retry, read from the run as the retry leaves it (no waiting needed). */
describe('retry backoff', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer({ GRAPHCRON_CRON_TICKER: '0' });
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  async function failingRun(retry: { retryBackoff: 'FIXED' | 'EXPONENTIAL'; retryTimes: number }) {
    const { createExecutorGroup } = await admin.data(CreateExecutorGroupDocument, {
      input: { name: `backoff-${retry.retryBackoff}` },
    });
    const executor = await TestExecutor.enroll(server, {
      name: `backoff-${retry.retryBackoff}`,
      groupId: createExecutorGroup.id,
    });
    const { executorBindings } = await admin.data(ExecutorBindingsDocument, {
      filter: { executorId: executor.id },
    });
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: {
        name: `backoff ${retry.retryBackoff}`,
        command: 'exit 1',
        retryIntervalSeconds: 10,
        retryMaxIntervalSeconds: 30,
        bindingIds: executorBindings.nodes.map((b) => b.id),
        ...retry,
      },
    });
    const instanceId = (await admin.data(RunTaskDocument, { id: createTask.id })).runTask.id;
    /** Fails the current attempt as the executor would, and returns the wait chosen for the next. */
    const failAttempt = async (attempt: number): Promise<number | null> => {
      // Dispatched and acknowledged, on an executor heard from just now (else the reaper would
      // rightly end the run UNKNOWN): set directly, so no waiting is involved.
      await query(
        server.app.orm.em.fork(),
        `with heard as (update executors set is_online = true, last_heartbeat_at = now() where id = $2)
         update task_instances set status = 11, executor_id = $2, dispatched_at = now(), acknowledged_at = now() where id = $1`,
        [instanceId, Number(executor.id)],
      );
      await executor.data(ReportTaskFinishedDocument, {
        input: {
          instanceId,
          attempt,
          status: 'ABNORMAL_ENDING',
          exitCode: 1,
          finishedAt: new Date().toISOString(),
        },
      });
      const [row] = await query<{ wait: number | null; status: number }>(
        server.app.orm.em.fork(),
        'select extract(epoch from available_at - updated_at)::float8 as wait, status from task_instances where id = $1',
        [instanceId],
      );
      return row!.status === 10 ? Number(row!.wait) : null;
    };
    return { failAttempt };
  }

  it('FIXED waits retryIntervalSeconds each time, then the run ends', async () => {
    const { failAttempt } = await failingRun({ retryBackoff: 'FIXED', retryTimes: 2 });
    expect(await failAttempt(1)).toBeCloseTo(10, 1);
    expect(await failAttempt(2)).toBeCloseTo(10, 1);
    expect(await failAttempt(3)).toBeNull(); // retries used up: stays ABNORMAL_ENDING
  });

  it('EXPONENTIAL doubles the wait with ±20% jitter, capped at retryMaxIntervalSeconds', async () => {
    const { failAttempt } = await failingRun({ retryBackoff: 'EXPONENTIAL', retryTimes: 3 });
    const waits = [await failAttempt(1), await failAttempt(2), await failAttempt(3)];
    expect(waits[0]).toBeGreaterThanOrEqual(8);
    expect(waits[0]).toBeLessThanOrEqual(12);
    expect(waits[1]).toBeGreaterThanOrEqual(16);
    expect(waits[1]).toBeLessThanOrEqual(24);
    expect(waits[2]).toBeGreaterThanOrEqual(30 * 0.999); // 32..48 s with jitter, capped to 30
    expect(waits[2]).toBeLessThanOrEqual(30.001);
  });
});
