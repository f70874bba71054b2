import type { CreateTaskInput } from '../../generated/graphql.js';
import type { TestServer } from '../../helpers/test-server.js';

/** Runs SQL on the server's database, outside any request (test setup and read-back). */
export function sql<Row extends object = Record<string, unknown>>(
  server: TestServer,
  query: string,
  params: readonly unknown[] = [],
): Promise<Row[]> {
  return server.app.orm.em.fork().getConnection().execute<Row[]>(query, params);
}

let nextMachineId = 1;

/**
 * An executor group, an executor and a binding between them, inserted with SQL: the executor
 * API is written elsewhere, and tasks only need binding ids.
 */
export async function insertBinding(server: TestServer, name: string): Promise<string> {
  const machineId = nextMachineId++;
  const [group] = await sql<{ id: number }>(
    server,
    'insert into executor_groups (name) values (?) returning id',
    [`group-${name}`],
  );
  const [executor] = await sql<{ id: number }>(
    server,
    'insert into executors (name, host, machine_id) values (?, ?, ?) returning id',
    [`executor-${name}`, `10.0.0.${machineId}:9090`, machineId],
  );
  const [binding] = await sql<{ id: number }>(
    server,
    'insert into executor_bindings (name, group_id, executor_id) values (?, ?, ?) returning id',
    [name, group!.id, executor!.id],
  );
  return String(binding!.id);
}

/** A valid task input; tests override what they are about. */
export function shellTask(overrides: Partial<CreateTaskInput> = {}): CreateTaskInput {
  return { name: 'nightly backup', command: 'pg_dump app > /backups/app.sql', ...overrides };
}

export interface AuditRow {
  action: string;
  entity_type: string;
  entity_id: string;
  actor_name: string;
  changes: Record<string, { before: unknown; after: unknown }>;
}

export function auditEntries(server: TestServer, entityType: string, entityId: string) {
  return sql<AuditRow>(
    server,
    'select action, entity_type, entity_id, actor_name, changes from audit_entries ' +
      'where entity_type = ? and entity_id = ? order by id',
    [entityType, entityId],
  );
}

/** A valid HTTP task input; tests override what they are about. */
export function httpTask(overrides: Partial<CreateTaskInput> = {}): CreateTaskInput {
  return {
    name: 'health check',
    kind: 'HTTP',
    command: '',
    httpRequest: { url: 'https://status.example.com/health' },
    ...overrides,
  };
}

/**
 * An HTTP task with every optional field set (secret env, headers, body, cron, retries, a
 * deadline): for tests that compare two ways of writing or reading a run field by field.
 */
export function httpTaskWithEveryField(name: string): CreateTaskInput {
  return httpTask({
    name,
    overlapPolicy: 'WAIT',
    maxParallelRuns: 4,
    maxWaitSeconds: 600,
    env: [
      { name: 'TOKEN', value: 's3cret' },
      { name: 'A_FIRST', value: 'ü é' },
    ],
    httpRequest: {
      method: 'POST',
      url: 'https://hooks.example.com/x',
      headers: [{ name: 'Authorization', value: 'Bearer abc' }],
      body: '{"a":1}',
      expectedStatusCodes: [200, 202],
    },
    expectedOutput: 'ok',
    cronExpression: '0 * * * *',
    timeZone: 'Europe/Paris',
    retryTimes: 2,
    retryBackoff: 'EXPONENTIAL',
    priority: 3,
    tag: 'ops',
    timeoutSeconds: 30,
  });
}
