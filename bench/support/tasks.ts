import type { BenchGraphql } from './graphql.js';

export interface BenchTaskInput {
  name: string;
  bindingIds: string[];
  command?: string;
  cronExpression?: string | null;
  timeZone?: string;
  activeFrom?: string;
  activeUntil?: string;
  maxParallelRuns?: number;
  overlapPolicy?: 'SKIP' | 'WAIT';
  routingStrategy?: string;
  misfirePolicy?: 'SKIP' | 'FIRE_ONCE';
}

/** Creates a SHELL task through the API and returns its id. */
export async function createBenchTask(
  graphql: BenchGraphql,
  input: BenchTaskInput,
): Promise<string> {
  const { createTask } = await graphql.request<{ createTask: { id: string } }>(
    'mutation ($input: CreateTaskInput!) { createTask(input: $input) { id } }',
    {
      input: {
        kind: 'SHELL',
        command: 'true',
        routingStrategy: 'ROUND_ROBIN',
        maxParallelRuns: 10_000,
        overlapPolicy: 'WAIT',
        ...input,
      },
    },
  );
  return createTask.id;
}

/** Creates many tasks through the API, `concurrency` requests at a time. */
export async function createBenchTasks(
  graphql: BenchGraphql,
  inputs: readonly BenchTaskInput[],
  concurrency = 8,
): Promise<string[]> {
  const ids: string[] = new Array<string>(inputs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < inputs.length) {
        const index = next++;
        ids[index] = await createBenchTask(graphql, inputs[index]!);
      }
    }),
  );
  return ids;
}

/** `runTasks` in calls of up to 1000 runs; resolves with the instance ids in order. */
export async function runTasksInBatches(
  graphql: BenchGraphql,
  taskIds: readonly string[],
  count: number,
  batchSize = 1000,
): Promise<string[]> {
  const ids: string[] = [];
  for (let offset = 0; offset < count; offset += batchSize) {
    const runs = Array.from({ length: Math.min(batchSize, count - offset) }, (_, index) => ({
      taskId: taskIds[(offset + index) % taskIds.length]!,
    }));
    const { runTasks } = await graphql.request<{ runTasks: { id: string }[] }>(
      'mutation ($runs: [RunTaskRequest!]!) { runTasks(runs: $runs) { id } }',
      { runs },
    );
    ids.push(...runTasks.map((run) => run.id));
  }
  return ids;
}
