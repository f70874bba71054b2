import { randomBytes } from 'node:crypto';
import {
  CreateExecutorGroupDocument,
  CreateTaskDocument,
  ExecutorBindingsDocument,
  RunTaskDocument,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { TestExecutor } from '../../helpers/test-executor.js';
import type { TestServer } from '../../helpers/test-server.js';

/** A group with one enrolled executor, and a task bound to it. */
export async function executorWithTask(
  server: TestServer,
  admin: GraphqlClient,
  task: {
    command?: string;
    timeoutSeconds?: number;
    retryTimes?: number;
    cronExpression?: string;
    maxParallelRuns?: number;
    overlapPolicy?: 'SKIP' | 'WAIT';
  } = {},
): Promise<{ executor: TestExecutor; taskId: string; run: () => Promise<string> }> {
  const suffix = randomBytes(3).toString('hex');
  const { createExecutorGroup } = await admin.data(CreateExecutorGroupDocument, {
    input: { name: `group-${suffix}` },
  });
  const executor = await TestExecutor.enroll(server, {
    name: `executor-${suffix}`,
    groupId: createExecutorGroup.id,
  });
  const { executorBindings } = await admin.data(ExecutorBindingsDocument, {
    filter: { executorId: executor.id },
  });
  const { createTask } = await admin.data(CreateTaskDocument, {
    input: {
      name: `task-${suffix}`,
      command: task.command ?? 'echo hello',
      maxParallelRuns: task.maxParallelRuns ?? 10,
      ...(task.overlapPolicy ? { overlapPolicy: task.overlapPolicy } : {}),
      timeoutSeconds: task.timeoutSeconds ?? 60,
      retryTimes: task.retryTimes ?? 0,
      retryIntervalSeconds: 0,
      bindingIds: executorBindings.nodes.map((b) => b.id),
      ...(task.cronExpression ? { cronExpression: task.cronExpression } : {}),
    },
  });
  const run = async () => (await admin.data(RunTaskDocument, { id: createTask.id })).runTask.id;
  return { executor, taskId: createTask.id, run };
}
