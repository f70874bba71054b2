import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SchedulerSetBindingWeightDocument } from '../../generated/graphql.js';
import {
  isInFlight,
  startCluster,
  statusCode,
  type Cluster,
  type ClusterExecutor,
} from './cluster.js';

const { FINISHED } = statusCode;

/** Creates `count` manual runs of a task, a few requests at a time. */
async function runMany(cluster: Cluster, taskId: string, count: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (next < count) {
        next++;
        await cluster.runTask(taskId);
      }
    }),
  );
}

/** Waits until `count` runs of the task have ended; returns how many ran on each executor. */
async function runsByExecutor(
  cluster: Cluster,
  taskId: string,
  count: number,
  timeoutMs = 30_000,
): Promise<Map<string, number>> {
  const rows = await cluster.until(
    `${count} runs of task ${taskId} to end`,
    async () => {
      const rows = await cluster.sql<{ executor_id: number | null; status: number; n: number }>(
        `select executor_id, status, count(*)::int as n from task_instances
          where task_id = $1 group by executor_id, status`,
        [taskId],
      );
      const ended = rows.filter((r) => !isInFlight(r.status)).reduce((sum, r) => sum + r.n, 0);
      return ended >= count && rows;
    },
    timeoutMs,
  );
  expect(rows.every((r) => r.status === FINISHED)).toBe(true);
  expect(rows.reduce((sum, r) => sum + r.n, 0)).toBe(count);
  return new Map(rows.map((r) => [String(r.executor_id), r.n]));
}

describe('routing over four real executor processes in one group', () => {
  let cluster: Cluster;
  let a: ClusterExecutor, b: ClusterExecutor, c: ClusterExecutor, d: ClusterExecutor;

  beforeAll(async () => {
    cluster = await startCluster({ env: { GRAPHCRON_EXECUTOR_HEARTBEAT_TIMEOUT_SECONDS: '3' } });
    // Registered one after another: bindings A < B < C < D, the FAILOVER order. Capacity is
    // far above what the tests need so that it never decides where a run goes: an executor
    // reports one request at a time, so a burst of runs holds its slots for seconds after they
    // ended (at capacity 100, a burst of 200 `true` runs filled the weight-3 executor and
    // skewed WEIGHTED to 36:64).
    a = await cluster.addExecutor({ capacity: 1000 });
    b = await cluster.addExecutor({ capacity: 1000 });
    c = await cluster.addExecutor({ capacity: 1000 });
    d = await cluster.addExecutor({ capacity: 1000 });
    await cluster.waitOnline([a, b, c, d]);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('WEIGHTED with binding weights 1 and 3: about a quarter of 200 runs on the weight-1 executor', async () => {
    await cluster.admin.data(SchedulerSetBindingWeightDocument, { id: a.bindingId, weight: 1 });
    await cluster.admin.data(SchedulerSetBindingWeightDocument, { id: b.bindingId, weight: 3 });
    const taskId = await cluster.createTask({
      command: 'true',
      routingStrategy: 'WEIGHTED',
      bindingIds: [a.bindingId, b.bindingId],
      maxParallelRuns: 200,
      overlapPolicy: 'WAIT',
    });
    await runMany(cluster, taskId, 200);
    const counts = await runsByExecutor(cluster, taskId, 200);
    const share = (counts.get(a.id) ?? 0) / 200;
    console.log(`WEIGHTED 1:3 over 200 runs: ${counts.get(a.id)} : ${counts.get(b.id)}`);
    // Binomial(200, 0.25): σ of the share ≈ 0.031, so this band is ±3.3σ.
    expect(share).toBeGreaterThanOrEqual(0.15);
    expect(share).toBeLessThanOrEqual(0.35);
    expect([...counts.keys()].sort()).toEqual([a.id, b.id].sort());
  });

  it('ROUND_ROBIN: 100 runs split near-equally over the four', async () => {
    const taskId = await cluster.createTask({
      command: 'true',
      routingStrategy: 'ROUND_ROBIN',
      maxParallelRuns: 100,
      overlapPolicy: 'WAIT',
    });
    await runMany(cluster, taskId, 100);
    const counts = await runsByExecutor(cluster, taskId, 100);
    console.log(
      `ROUND_ROBIN over 100 runs: ${[a, b, c, d].map((e) => counts.get(e.id) ?? 0).join(' / ')}`,
    );
    for (const executor of [a, b, c, d]) {
      expect(counts.get(executor.id) ?? 0).toBeGreaterThanOrEqual(23);
      expect(counts.get(executor.id) ?? 0).toBeLessThanOrEqual(27);
    }
  });

  it('RANDOM: 100 runs reach every executor, and none gets them all', async () => {
    const taskId = await cluster.createTask({
      command: 'true',
      routingStrategy: 'RANDOM',
      maxParallelRuns: 100,
      overlapPolicy: 'WAIT',
    });
    await runMany(cluster, taskId, 100);
    const counts = await runsByExecutor(cluster, taskId, 100);
    const spread = [a, b, c, d].map((e) => counts.get(e.id) ?? 0);
    console.log(`RANDOM over 100 runs: ${spread.join(' / ')}`);
    expect([...counts.keys()].sort()).toEqual([a.id, b.id, c.id, d.id].sort());
    // Binomial(100, 0.25) per executor (mean 25, σ ≈ 4.3): outside 5..50 has a chance of
    // about 4e-8 each, so this fails only if the choice is not spread over all four.
    for (const count of spread) {
      expect(count).toBeGreaterThanOrEqual(5);
      expect(count).toBeLessThanOrEqual(50);
    }
  });

  it('LEAST_LOADED: 12 overlapping runs spread 3 per executor', async () => {
    const taskId = await cluster.createTask({
      // Long enough that all 12 still run when the last is dispatched, even on a loaded box.
      command: 'sleep 4',
      routingStrategy: 'LEAST_LOADED',
      maxParallelRuns: 12,
      overlapPolicy: 'WAIT',
    });
    await runMany(cluster, taskId, 12);
    const counts = await runsByExecutor(cluster, taskId, 12);
    const spread = [a, b, c, d].map((e) => counts.get(e.id) ?? 0);
    console.log(`LEAST_LOADED over 12 runs: ${spread.join(' / ')}`);
    expect(Math.max(...spread) - Math.min(...spread)).toBeLessThanOrEqual(1);
  });

  it('BROADCAST: one runTask becomes one run on each executor', async () => {
    const taskId = await cluster.createTask({ command: 'true', routingStrategy: 'BROADCAST' });
    await cluster.runTask(taskId);
    const counts = await runsByExecutor(cluster, taskId, 4);
    expect(Object.fromEntries(counts)).toEqual(
      Object.fromEntries([a, b, c, d].map((e) => [e.id, 1])),
    );
  });

  it('FAILOVER: all on the first binding; after its executor is SIGKILLed and goes offline, on the next', async () => {
    const taskId = await cluster.createTask({
      command: 'true',
      routingStrategy: 'FAILOVER',
      maxParallelRuns: 10,
      overlapPolicy: 'WAIT',
    });
    await runMany(cluster, taskId, 10);
    expect(Object.fromEntries(await runsByExecutor(cluster, taskId, 10))).toEqual({ [a.id]: 10 });

    await a.process.stop('SIGKILL');
    await cluster.until(
      `executor ${a.id} to be marked offline`,
      async () => {
        const [row] = await cluster.sql<{ is_online: boolean }>(
          'select is_online from executors where id = $1',
          [a.id],
        );
        return !row!.is_online;
      },
      10_000,
    );
    await runMany(cluster, taskId, 10);
    expect(Object.fromEntries(await runsByExecutor(cluster, taskId, 20))).toEqual({
      [a.id]: 10,
      [b.id]: 10,
    });
  });
});
