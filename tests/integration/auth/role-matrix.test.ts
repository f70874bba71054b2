import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuditEntriesDocument,
  CreateApiTokenDocument,
  CreateExecutorDocument,
  CreateExecutorGroupDocument,
  CreateTaskDocument,
  CreateUserDocument,
  DeleteExecutorDocument,
  DeleteTaskDocument,
  ExecutorGroupsDocument,
  ExecutorsDocument,
  MeDocument,
  RunTaskDocument,
  TaskInstancesDocument,
  TasksDocument,
  UpdateExecutorGroupDocument,
  UpdateTaskDocument,
  UsersDocument,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { createUser } from '../../helpers/users.js';

type Caller = 'ADMIN' | 'USER' | 'GUEST' | 'ANONYMOUS';
type Outcome = 'ok' | 'FORBIDDEN' | 'UNAUTHENTICATED';

let nextMachineId = 100;
const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

/**
 * Role × operation, through the API: what each kind of caller gets. "ok" means the operation
 * succeeded; anything else is the error code. Objects acted on belong to the admin.
 */
describe('role matrix', () => {
  let server: TestServer;
  const clients = {} as Record<Caller, GraphqlClient>;
  let adminTaskId: string;
  let adminGroupId: string;

  beforeAll(async () => {
    server = await startTestServer();
    clients.ADMIN = await server.asAdmin();
    clients.USER = (await createUser(server, 'USER')).client;
    clients.GUEST = (await createUser(server, 'GUEST')).client;
    clients.ANONYMOUS = server.anonymous;
    adminTaskId = (
      await clients.ADMIN.data(CreateTaskDocument, {
        input: { name: 'admin task', command: 'true' },
      })
    ).createTask.id;
    adminGroupId = (
      await clients.ADMIN.data(CreateExecutorGroupDocument, {
        input: { name: unique('admin-group') },
      })
    ).createExecutorGroup.id;
  });
  afterAll(() => server?.stop());

  const operations: {
    name: string;
    run: (
      client: GraphqlClient,
    ) => Promise<{ errors?: readonly { extensions?: { code?: unknown } }[] }>;
    expected: Record<Caller, Outcome>;
  }[] = [
    {
      name: 'me',
      run: (c) => c.execute(MeDocument),
      expected: { ADMIN: 'ok', USER: 'ok', GUEST: 'ok', ANONYMOUS: 'UNAUTHENTICATED' },
    },
    {
      name: 'users',
      run: (c) => c.execute(UsersDocument, {}),
      expected: { ADMIN: 'ok', USER: 'ok', GUEST: 'FORBIDDEN', ANONYMOUS: 'UNAUTHENTICATED' },
    },
    {
      name: 'createUser',
      run: (c) =>
        c.execute(CreateUserDocument, {
          input: { username: unique('u'), password: 'long-enough-1' },
        }),
      expected: {
        ADMIN: 'ok',
        USER: 'FORBIDDEN',
        GUEST: 'FORBIDDEN',
        ANONYMOUS: 'UNAUTHENTICATED',
      },
    },
    {
      name: 'auditEntries',
      run: (c) => c.execute(AuditEntriesDocument, {}),
      expected: {
        ADMIN: 'ok',
        USER: 'FORBIDDEN',
        GUEST: 'FORBIDDEN',
        ANONYMOUS: 'UNAUTHENTICATED',
      },
    },
    {
      name: 'executors',
      run: (c) => c.execute(ExecutorsDocument, {}),
      expected: { ADMIN: 'ok', USER: 'ok', GUEST: 'ok', ANONYMOUS: 'UNAUTHENTICATED' },
    },
    {
      name: 'createExecutor + deleteExecutor',
      run: async (c) => {
        const created = await c.execute(CreateExecutorDocument, {
          input: {
            name: unique('ex'),
            host: 'worker.internal:9000',
            machineId: nextMachineId++,
          },
        });
        if (created.errors || !created.data) return created;
        return clients.ADMIN === c
          ? c.execute(DeleteExecutorDocument, { id: created.data.createExecutor.id })
          : created;
      },
      expected: {
        ADMIN: 'ok',
        USER: 'FORBIDDEN',
        GUEST: 'FORBIDDEN',
        ANONYMOUS: 'UNAUTHENTICATED',
      },
    },
    {
      name: 'executorGroups',
      run: (c) => c.execute(ExecutorGroupsDocument, {}),
      expected: { ADMIN: 'ok', USER: 'ok', GUEST: 'ok', ANONYMOUS: 'UNAUTHENTICATED' },
    },
    {
      name: 'createExecutorGroup',
      run: (c) => c.execute(CreateExecutorGroupDocument, { input: { name: unique('group') } }),
      expected: { ADMIN: 'ok', USER: 'ok', GUEST: 'FORBIDDEN', ANONYMOUS: 'UNAUTHENTICATED' },
    },
    {
      name: "updateExecutorGroup (the admin's)",
      run: (c) =>
        c.execute(UpdateExecutorGroupDocument, {
          id: adminGroupId,
          input: { description: unique('d') },
        }),
      expected: {
        ADMIN: 'ok',
        USER: 'FORBIDDEN',
        GUEST: 'FORBIDDEN',
        ANONYMOUS: 'UNAUTHENTICATED',
      },
    },
    {
      name: 'tasks',
      run: (c) => c.execute(TasksDocument, { first: 10 }),
      expected: { ADMIN: 'ok', USER: 'ok', GUEST: 'ok', ANONYMOUS: 'UNAUTHENTICATED' },
    },
    {
      name: 'createTask',
      run: (c) =>
        c.execute(CreateTaskDocument, { input: { name: unique('task'), command: 'echo hi' } }),
      expected: { ADMIN: 'ok', USER: 'ok', GUEST: 'FORBIDDEN', ANONYMOUS: 'UNAUTHENTICATED' },
    },
    {
      name: "updateTask (the admin's)",
      run: (c) =>
        c.execute(UpdateTaskDocument, { id: adminTaskId, input: { description: unique('d') } }),
      expected: {
        ADMIN: 'ok',
        USER: 'FORBIDDEN',
        GUEST: 'FORBIDDEN',
        ANONYMOUS: 'UNAUTHENTICATED',
      },
    },
    {
      name: "runTask (the admin's)",
      run: (c) => c.execute(RunTaskDocument, { id: adminTaskId }),
      expected: {
        ADMIN: 'ok',
        USER: 'FORBIDDEN',
        GUEST: 'FORBIDDEN',
        ANONYMOUS: 'UNAUTHENTICATED',
      },
    },
    {
      name: "deleteTask (the admin's)",
      run: async (c) => {
        const { createTask } = await clients.ADMIN.data(CreateTaskDocument, {
          input: { name: unique('doomed'), command: 'true' },
        });
        return c.execute(DeleteTaskDocument, { id: createTask.id });
      },
      expected: {
        ADMIN: 'ok',
        USER: 'FORBIDDEN',
        GUEST: 'FORBIDDEN',
        ANONYMOUS: 'UNAUTHENTICATED',
      },
    },
    {
      name: 'taskInstances',
      run: (c) => c.execute(TaskInstancesDocument, { first: 5 }),
      expected: { ADMIN: 'ok', USER: 'ok', GUEST: 'ok', ANONYMOUS: 'UNAUTHENTICATED' },
    },
    {
      name: 'createApiToken',
      run: (c) => c.execute(CreateApiTokenDocument, { input: { name: 'script' } }),
      expected: { ADMIN: 'ok', USER: 'ok', GUEST: 'ok', ANONYMOUS: 'UNAUTHENTICATED' },
    },
  ];

  for (const operation of operations) {
    it(`${operation.name}: ${JSON.stringify(operation.expected)}`, async () => {
      const outcomes = {} as Record<Caller, Outcome | string>;
      for (const caller of Object.keys(operation.expected) as Caller[]) {
        const result = await operation.run(clients[caller]);
        outcomes[caller] = result.errors?.length
          ? String(result.errors[0]!.extensions?.code)
          : 'ok';
      }
      expect(outcomes).toEqual(operation.expected);
    });
  }
});
