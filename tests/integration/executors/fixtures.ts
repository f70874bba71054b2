import { randomBytes } from 'node:crypto';
import {
  CreateExecutorBindingDocument,
  CreateExecutorDocument,
  CreateExecutorGroupDocument,
  type CreateExecutorBindingInput,
  type CreateExecutorGroupInput,
  type CreateExecutorInput,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import type { TestServer } from '../../helpers/test-server.js';

/** Shared by the executor, executor group and executor binding tests. */

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

let nextMachineId = 0;

/** Valid input with a fresh name and machine id (each test file has its own database). */
export function executorInput(overrides: Partial<CreateExecutorInput> = {}): CreateExecutorInput {
  return {
    name: uniqueName('executor'),
    host: '10.0.0.5:9090',
    machineId: nextMachineId++,
    ...overrides,
  };
}

export async function createExecutor(
  admin: GraphqlClient,
  overrides: Partial<CreateExecutorInput> = {},
) {
  const { createExecutor } = await admin.data(CreateExecutorDocument, {
    input: executorInput(overrides),
  });
  return createExecutor;
}

export async function createGroup(
  client: GraphqlClient,
  overrides: Partial<CreateExecutorGroupInput> = {},
) {
  const { createExecutorGroup } = await client.data(CreateExecutorGroupDocument, {
    input: { name: uniqueName('group'), ...overrides },
  });
  return createExecutorGroup;
}

export async function createBinding(
  client: GraphqlClient,
  input: Omit<CreateExecutorBindingInput, 'name'> & { name?: string },
) {
  const { createExecutorBinding } = await client.data(CreateExecutorBindingDocument, {
    input: { name: uniqueName('binding'), ...input },
  });
  return createExecutorBinding;
}

/** Raw SQL on the server's own database, for what the API does not show (or not yet). */
export function sql<T>(server: TestServer, query: string, params: unknown[] = []): Promise<T[]> {
  return server.app.orm.em.fork().getConnection().execute<T[]>(query, params);
}

export interface AuditRow {
  action: string;
  entity_id: string;
  actor_name: string;
  changes: Record<string, { before: unknown; after: unknown }>;
}

export function auditEntries(
  server: TestServer,
  entityType: string,
  entityId: string,
): Promise<AuditRow[]> {
  return sql<AuditRow>(
    server,
    `select action, entity_id, actor_name, changes from audit_entries
      where entity_type = ? and entity_id = ? order by id`,
    [entityType, entityId],
  );
}

/**
 * Inserts a task that uses the binding straight into the database: the tasks API is written
 * separately, and these tests only need the row in `task_bindings`.
 */
export async function insertTaskUsing(server: TestServer, bindingId: string, name: string) {
  const [task] = await sql<{ id: number }>(
    server,
    `insert into tasks (name, command) values (?, 'true') returning id`,
    [name],
  );
  if (!task) throw new Error('the task insert returned no row');
  await sql(server, 'insert into task_bindings (task_id, binding_id) values (?, ?)', [
    task.id,
    Number(bindingId),
  ]);
  return task.id;
}
