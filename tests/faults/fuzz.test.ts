import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { buildSchema } from 'graphql';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AcknowledgeAssignmentDocument,
  CancelTaskInstanceDocument,
  CreateApiTokenDocument,
  CreateExecutorBindingDocument,
  CreateExecutorDocument,
  CreateExecutorGroupDocument,
  CreateTaskDocument,
  ReportTaskStartedDocument,
  RunTaskDocument,
  TaskInstanceUpdatedDocument,
} from '../generated/graphql.js';
import type { GraphqlClient } from '../helpers/graphql-client.js';
import type { TestExecutor } from '../helpers/test-executor.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { createUser, type TestUser } from '../helpers/users.js';
import { record, wsClient } from '../helpers/ws-client.js';
import { executorWithTask } from '../integration/executor-protocol/fixtures.js';
import { CaseBuilder, Rng, wrongType, type Case, type FuzzValue } from './fuzz-values.js';

/**
 * Bad input: every mutation of the schema, each argument and input field, with values of the
 * wrong type, huge, empty, negative, out of range, invalid cron and time zones and unknown ids,
 * sent as variables and as inline literals, as an admin (or, where only executors may call, as
 * an executor) and a sample without credentials; then malformed graphql-ws traffic. Nothing may
 * answer 5xx or INTERNAL_SERVER_ERROR, crash the server, or write anything unless it succeeded.
 *
 * Run: npx vitest run --config vitest.faults.config.ts tests/faults/fuzz.test.ts
 * Reproduce with FUZZ_SEED=<seed> (printed with every failure); FUZZ_ONLY=<regexp> limits the
 * mutations (a mutation's cases do not depend on the others), FUZZ_CAP sets the variants per
 * input position (default 8), FUZZ_VERBOSE=1 lists every accepted case.
 */
const seed = Number(process.env.FUZZ_SEED ?? 20_261_126);
const cap = Number(process.env.FUZZ_CAP ?? 8);
const only = process.env.FUZZ_ONLY ? new RegExp(process.env.FUZZ_ONLY) : null;
const concurrency = 4;
const batchSize = 16;

const schema = buildSchema(
  readFileSync(new URL('../../schema/schema.graphql', import.meta.url), 'utf8'),
);
const mutations = Object.values(schema.getMutationType()?.getFields() ?? {});

/** Codes a refused request may carry (format-error.ts; the depth limit answers BAD_USER_INPUT). */
const allowedCodes = new Set([
  'BAD_USER_INPUT',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'GRAPHQL_VALIDATION_FAILED',
  'GRAPHQL_PARSE_FAILED',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
]);

/**
 * Tables left out of the no-partial-writes check, because they change on requests that fail
 * or in the background, by design (see migrations/):
 * - executor_token_uses: every executor-authenticated request records its token's `jti` (replay
 *   protection) before the operation runs; the reaper deletes expired ones.
 * - login_throttles: a failed login is counted, which is the point of a throttle.
 * - server_nodes: this replica renews its machine-id lease on a timer.
 * And columns: executors.is_online / last_heartbeat_at are liveness, written by the heartbeat
 * buffer (asynchronously, in batches), by subscriptions and by the reaper.
 * audit_entries stays in: an entry is written in the same transaction as its change.
 */
const excludedTables = new Set(['executor_token_uses', 'login_throttles', 'server_nodes']);
const excludedColumns = new Set(['executors.is_online', 'executors.last_heartbeat_at']);

// ---------------------------------------------------------------------------------------------
// Server log: unexpected errors are logged as JSON lines on stderr, with the request id.

const serverErrors: string[] = [];
const originalWrite = process.stderr.write.bind(process.stderr);
const originalConsoleError = console.error;
function captureServerLog(): void {
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    if (text.includes('"level":"error"')) {
      serverErrors.push(text.trim());
      // An error of a fuzz request is shown with the failure that names it.
      if (text.includes('"requestId":"fuzz-')) return true;
    }
    return (originalWrite as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  // graphql-ws reports errors while handling a message with console.error.
  console.error = (...args: unknown[]) => {
    serverErrors.push(args.map((a) => (a instanceof Error ? a.stack : String(a))).join(' '));
    originalConsoleError(...args);
  };
}
function restoreServerLog(): void {
  process.stderr.write = originalWrite;
  console.error = originalConsoleError;
}
const logFor = (requestId: string) =>
  serverErrors.filter((line) => line.includes(`"requestId":"${requestId}"`));

// ---------------------------------------------------------------------------------------------
// Fixtures

interface Fixtures {
  fuzzAdmin: TestUser;
  loginUser: TestUser;
  victimUser: TestUser;
  protocolExecutor: TestExecutor;
  protocolTaskId: string;
  runningInstanceId: string;
  victimGroupId: string;
  victimExecutorId: string;
  spareExecutorId: string;
  victimBindingId: string;
  victimTaskId: string;
  victimApiTokenId: string;
  publicKeyPem: string;
}

let server: TestServer;
let admin: GraphqlClient;
let fx: Fixtures;
let snapshotSql: string;
/** Enrollment tokens `gcenr_fuzz_<n>` inserted by setUpFixtures, handed out in order. */
const enrollmentTokenPrefix = 'gcenr_fuzz_';
let nextToken = 1;
const accepted: string[] = [];
const perMutation: string[] = [];
const totals = { cases: 0, requests: 0, snapshots: 0, snapshotMs: 0 };
const startedAt = Date.now();

/**
 * What the valid parts of each case point at: an executor with a RUNNING run (its reports need
 * one), victims for the update and delete mutations (never the records the pass relies on), a
 * spare executor to bind, a second admin whose own password and profile the pass may change,
 * and a user to log in as.
 */
async function setUpFixtures(): Promise<Fixtures> {
  const protocol = await executorWithTask(server, admin, { command: 'sleep 1' });
  const feed = protocol.executor.assignments();
  const runningInstanceId = await protocol.run();
  await feed.atLeast(1);
  await protocol.executor.data(AcknowledgeAssignmentDocument, {
    instanceId: runningInstanceId,
    attempt: 1,
  });
  await protocol.executor.data(ReportTaskStartedDocument, {
    input: { instanceId: runningInstanceId, attempt: 1, startedAt: new Date().toISOString() },
  });
  feed.dispose();
  await protocol.executor.close();

  const publicKeyPem = generateKeyPairSync('rsa', { modulusLength: 2048 })
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString();
  const { createExecutorGroup } = await admin.data(CreateExecutorGroupDocument, {
    input: { name: 'fuzz-victim-group' },
  });
  const executor = (name: string, machineId: number) =>
    admin.data(CreateExecutorDocument, {
      input: { name, host: `${name}.test:9100`, machineId, publicKey: publicKeyPem },
    });
  const victimExecutor = (await executor('fuzz-victim-executor', 900)).createExecutor;
  const spareExecutor = (await executor('fuzz-spare-executor', 901)).createExecutor;
  const { createExecutorBinding } = await admin.data(CreateExecutorBindingDocument, {
    input: { name: 'fuzz-victim', groupId: createExecutorGroup.id, executorId: victimExecutor.id },
  });
  const { createTask } = await admin.data(CreateTaskDocument, {
    input: { name: 'fuzz-victim-task', command: 'true', bindingIds: [createExecutorBinding.id] },
  });
  const fuzzAdmin = await createUser(server, 'ADMIN', 'fuzz-admin');
  const { createApiToken } = await fuzzAdmin.client.data(CreateApiTokenDocument, {
    input: { name: 'fuzz victim' },
  });
  // Tokens for registerExecutor, inserted directly: one API call per fuzz case would double its
  // cost (createEnrollmentToken itself is fuzzed through the API).
  await sqlRows(
    `insert into enrollment_tokens (token_hash, group_id, expires_at)
     select encode(sha256(convert_to('${enrollmentTokenPrefix}' || i, 'UTF8')), 'hex'), ${Number(createExecutorGroup.id)}, now() + interval '1 day'
       from generate_series(1, 1000) as i`,
  );
  return {
    fuzzAdmin,
    loginUser: await createUser(server, 'USER', 'fuzz-login'),
    victimUser: await createUser(server, 'USER', 'fuzz-victim'),
    protocolExecutor: protocol.executor,
    protocolTaskId: protocol.taskId,
    runningInstanceId,
    victimGroupId: createExecutorGroup.id,
    victimExecutorId: victimExecutor.id,
    spareExecutorId: spareExecutor.id,
    victimBindingId: createExecutorBinding.id,
    victimTaskId: createTask.id,
    victimApiTokenId: createApiToken.apiToken.id,
    publicKeyPem,
  };
}

/** The `id` argument of `updateTask`, `runTask`, `deleteUser`...: the victim of that type. */
function idFor(mutation: string): string {
  const entity = /^(?:update|delete|run|cancel|revoke)(\w+)$/.exec(mutation)?.[1];
  const ids: Record<string, string> = {
    Task: fx.victimTaskId,
    TaskInstance: fx.runningInstanceId,
    ExecutorBinding: fx.victimBindingId,
    ExecutorGroup: fx.victimGroupId,
    Executor: fx.victimExecutorId,
    User: fx.victimUser.id,
    ApiToken: fx.victimApiTokenId,
  };
  // An unknown type gets an id of nothing: its input is still fuzzed, nothing is harmed.
  return (entity && ids[entity]) ?? '999999999';
}

/**
 * Valid values by field name (or `owner.field`), so that one bad field at a time gets past the
 * others. Fields without a hint get a generic value of their type.
 */
function hint(owner: string, field: string, n: number): FuzzValue | undefined {
  const now = new Date().toISOString();
  const byOwner: Record<string, () => FuzzValue> = {
    'changeMyPassword.currentPassword': () => fx.fuzzAdmin.password,
    'login.username': () => fx.loginUser.username,
    'login.password': () => fx.loginUser.password,
    // Valid names, so that the other field of the pair is what gets fuzzed.
    'EnvironmentVariableInput.name': () => `FUZZ_VAR_${n}`,
    'HttpHeaderInput.name': () => 'X-Fuzz',
    // One unused token per case (a registration that succeeds uses its token up).
    'RegisterExecutorInput.enrollmentToken': () => `${enrollmentTokenPrefix}${nextToken++}`,
  };
  const byName: Record<string, () => FuzzValue> = {
    id: () => idFor(owner),
    instanceId: () => fx.runningInstanceId,
    runningInstanceIds: () => [fx.runningInstanceId],
    groupId: () => fx.victimGroupId,
    executorId: () => fx.spareExecutorId,
    bindingIds: () => [fx.victimBindingId],
    taskId: () => fx.victimTaskId,
    attempt: () => 1,
    seq: () => n,
    name: () => `fuzz-${n}`,
    username: () => `fuzz-user-${n}`,
    password: () => 'fuzz-password-1',
    newPassword: () => 'fuzz-password-2',
    command: () => 'echo fuzz',
    host: () => `fuzz-${n}.test:9100`,
    machineId: () => 100 + (n % 700),
    publicKey: () => fx.publicKeyPem,
    cronExpression: () => '0 3 * * *',
    timeZone: () => 'UTC',
    url: () => 'https://example.com/hook',
    method: () => 'GET',
    content: () => 'hello',
    refreshToken: () => 'not-a-refresh-token',
    startedAt: () => now,
    finishedAt: () => now,
    emittedAt: () => now,
    status: () => (owner === 'ReportTaskFinishedInput' ? 'FINISHED' : null),
  };
  const make = byOwner[`${owner}.${field}`] ?? byName[field];
  const value = make?.();
  return value === null ? undefined : value;
}

const builder = new CaseBuilder({
  schema,
  hint,
  // Fields that only make sense together: fuzzing the key sets the others on the same object.
  companions: { httpRequest: { kind: 'HTTP' }, frequencyTimes: { frequency: 'TIMES' } },
  // Unknown, well-formed ids are legitimate here: a heartbeat lists what the executor runs, and
  // an executor starting again lists every run it knows of, some perhaps long gone.
  unknownIdsAllowed: new Set(['runningInstanceIds', 'reconcileExecutorRuns.*']),
  // Inputs whose fields take the same values as another's documented fields.
  contractAliases: {
    RegisterExecutorInput: 'CreateExecutorInput',
    UpdateProfileInput: 'CreateUserInput',
    'changeMyPassword.newPassword': 'CreateUserInput.password',
  },
  cap,
});

// ---------------------------------------------------------------------------------------------
// Sending and judging

interface Principal {
  name: 'admin' | 'executor' | 'anonymous';
  authorization(): Promise<string | null>;
}

interface ResultBody {
  data?: Record<string, unknown> | null;
  errors?: { message?: string; path?: unknown; extensions?: { code?: unknown } }[];
}

interface Result {
  case: Case;
  principal: Principal['name'];
  status: number;
  text: string;
  body: ResultBody | null;
  requestId: string;
  succeeded: boolean;
  /** Reached a resolver: an error with a path, or data. */
  executed: boolean;
}

async function send(c: Case, principal: Principal, attempt = 0): Promise<Result> {
  // Logged with every server error; `^[\w.-]{1,64}$` or the server picks its own.
  const requestId = `fuzz-${seed}-${c.mutation.slice(0, 24)}-${c.index}-${principal.name}-${attempt}`;
  const authorization = await principal.authorization();
  totals.requests++;
  let status = 0;
  let text = '';
  try {
    const response = await fetch(`http://127.0.0.1:${server.app.port}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-request-id': requestId,
        ...(authorization ? { authorization } : {}),
      },
      body: c.body,
    });
    status = response.status;
    text = await response.text();
  } catch (error) {
    text = `no response: ${String(error)}`;
  }
  let body: ResultBody | null = null;
  try {
    body = JSON.parse(text) as ResultBody;
  } catch {
    body = null;
  }
  const errors = body?.errors ?? [];
  const field = body?.data?.[c.mutation];
  const refused = (field as { refused?: unknown } | null | undefined)?.refused;
  const succeeded =
    status > 0 &&
    status < 300 &&
    errors.length === 0 &&
    field !== undefined &&
    field !== null &&
    !(Array.isArray(refused) && refused.length > 0);
  // An answer that is not GraphQL's (a crash, a 5xx) may have come from anywhere.
  const executed =
    succeeded || errors.some((e) => e.path !== undefined) || status === 0 || status >= 500;
  return { case: c, principal: principal.name, status, text, body, requestId, succeeded, executed };
}

function describeCase(r: Result): string {
  const c = r.case;
  return (
    `[seed=${seed} ${c.mutation} #${c.index}] ${c.where} = ${c.label} ` +
    `via ${c.encoding} as ${r.principal}`
  );
}

/** Problems found, one per case and kind (a case sent again adds nothing new). */
class Problems {
  private readonly found = new Map<string, string>();
  /** Server-log stacks already shown: each distinct error is shown once. */
  private static readonly shownErrors = new Set<string>();
  add(key: string, message: string): void {
    if (!this.found.has(key)) this.found.set(key, message);
  }
  get list(): string[] {
    return [...this.found.values()];
  }
  static logOf(requestId: string): string {
    const lines = logFor(requestId).map((line) => {
      const parsed = parseLogLine(line);
      const key = `${parsed.name}: ${parsed.message}`;
      if (Problems.shownErrors.has(key)) return `(logged: ${key.slice(0, 200)})`;
      Problems.shownErrors.add(key);
      return parsed.stack ?? line;
    });
    return lines.length ? `\n    server log: ${lines.join('\n    ').slice(0, 3000)}` : '';
  }
}

function parseLogLine(line: string): { name?: string; message?: string; stack?: string } {
  try {
    const parsed = JSON.parse(line) as {
      error?: { name?: string; message?: string; stack?: string };
    };
    return parsed.error ?? {};
  } catch {
    return { message: line.slice(0, 300) };
  }
}

function checkResponse(r: Result, problems: Problems): void {
  const id = `${r.case.index}/${r.principal}`;
  const snippet = () =>
    `\n    response ${r.status}: ${r.text.slice(0, 300)}${Problems.logOf(r.requestId)}`;
  if (r.status === 0 || r.status >= 500)
    problems.add(`${id}/status`, `${describeCase(r)}: HTTP ${r.status}${snippet()}`);
  const bad = (r.body?.errors ?? []).find((error) => {
    const code = error.extensions?.code;
    return typeof code !== 'string' || !allowedCodes.has(code);
  });
  if (bad)
    problems.add(
      `${id}/code`,
      `${describeCase(r)}: error code ${String(bad.extensions?.code)}${snippet()}`,
    );
  if (r.succeeded && r.case.mustFail)
    problems.add(
      `${id}/accepted`,
      `${describeCase(r)}: accepted, but it is ${r.case.mustFail}${snippet()}`,
    );
  if (r.succeeded) accepted.push(`${describeCase(r)} -> ${r.text.slice(0, 160)}`);
}

type Snapshot = Map<string, string>;

/**
 * One fingerprint per table. A table is compared by its row versions (`ctid`, `xmin`): every
 * insert, update and delete changes them, and reading them never detoasts the megabyte values
 * that successful cases store, so a snapshot stays cheap. A table with excluded columns is
 * compared by the content of the other columns.
 */
async function buildSnapshotSql(): Promise<string> {
  const columns = await sqlRows<{ table_name: string; column_name: string }>(
    `select c.table_name, c.column_name from information_schema.columns c
       join information_schema.tables t using (table_schema, table_name)
      where c.table_schema = 'public' and t.table_type = 'BASE TABLE'
      order by c.table_name, c.ordinal_position`,
  );
  const byTable = new Map<string, string[]>();
  for (const { table_name: table, column_name: column } of columns) {
    if (excludedTables.has(table)) continue;
    const kept = byTable.get(table) ?? [];
    if (!excludedColumns.has(`${table}.${column}`)) kept.push(`"${column}"`);
    byTable.set(table, kept);
  }
  const partial = new Set([...excludedColumns].map((c) => c.split('.')[0]));
  return [...byTable]
    .map(([table, cols]) =>
      partial.has(table)
        ? `select '${table}' as t, count(*) || ':' || coalesce(md5(string_agg(r::text, ',' order by r::text)), '') as h
             from (select ${cols.join(', ')} from "${table}") r`
        : `select '${table}' as t, count(*) || ':' || coalesce(md5(string_agg(ctid::text || xmin::text, ',' order by ctid)), '') as h
             from "${table}"`,
    )
    .join('\nunion all\n');
}

function sqlRows<Row extends object>(query: string): Promise<Row[]> {
  return server.app.orm.em.fork().getConnection().execute<Row[]>(query);
}

async function snapshot(): Promise<Snapshot> {
  const began = Date.now();
  const rows = await sqlRows<{ t: string; h: string }>(snapshotSql);
  totals.snapshots++;
  totals.snapshotMs += Date.now() - began;
  return new Map(rows.map((row) => [row.t, row.h]));
}

function changedTables(before: Snapshot, after: Snapshot): string[] {
  return [...after.keys()].filter((table) => before.get(table) !== after.get(table));
}

/** Waits until what a success set off (dispatch, NOTIFY listeners) has settled. */
async function quiesce(): Promise<Snapshot> {
  let previous = await snapshot();
  for (let i = 0; i < 25; i++) {
    await new Promise((resolve) => setTimeout(resolve, 40));
    const next = await snapshot();
    if (changedTables(previous, next).length === 0) return next;
    previous = next;
  }
  return previous;
}

async function pool<T, R>(items: T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!);
      }
    }),
  );
  return results;
}

/**
 * Sends the cases in small concurrent batches and checks every answer; after each batch the
 * database must be as before unless a case succeeded. A batch with a success is settled, and
 * its failed cases are sent again one at a time, each of which must write nothing.
 */
async function runPass(
  cases: Case[],
  principal: Principal,
  problems: Problems,
  size = batchSize,
): Promise<Result[]> {
  const all: Result[] = [];
  let before = await snapshot();
  const isolated = async (c: Case, attempt: number): Promise<void> => {
    const s0 = await snapshot();
    const again = await send(c, principal, attempt);
    checkResponse(again, problems);
    if (again.succeeded) before = await quiesce();
    else {
      const changed = changedTables(s0, await snapshot());
      if (changed.length)
        problems.add(
          `${c.index}/${principal.name}/write`,
          `${describeCase(again)}: failed but changed ${changed.join(', ')} (partial write)`,
        );
    }
  };
  for (let start = 0; start < cases.length; start += size) {
    const batch = cases.slice(start, start + size);
    const results = await pool(batch, concurrency, (c) => send(c, principal));
    all.push(...results);
    for (const r of results) checkResponse(r, problems);
    if (results.some((r) => r.succeeded)) {
      before = await quiesce();
      // Only a case that reached a resolver can have written anything.
      for (const r of results.filter((x) => !x.succeeded && x.executed)) await isolated(r.case, 1);
      before = await snapshot();
      continue;
    }
    // Nothing reached a resolver: nothing can have been written.
    if (!results.some((r) => r.executed)) continue;
    const after = await snapshot();
    const changed = changedTables(before, after);
    if (changed.length) {
      // Find the case that wrote, by sending each again alone.
      const count = problems.list.length;
      for (const r of results.filter((x) => x.executed)) await isolated(r.case, 1);
      if (problems.list.length === count)
        problems.add(
          `batch-${batch[0]!.index}/${principal.name}`,
          `[seed=${seed}] ${principal.name} batch #${batch[0]!.index}..#${batch.at(-1)!.index} of ` +
            `${batch[0]!.mutation} failed but changed ${changed.join(', ')} (partial write)`,
        );
      before = await snapshot();
    } else before = after;
  }
  return all;
}

async function assertHealthy(problems: Problems, after: string): Promise<void> {
  const base = `http://127.0.0.1:${server.app.port}`;
  try {
    const health = await fetch(`${base}/healthz`);
    const query = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query":"{ __typename }"}',
    });
    const body = (await query.json()) as ResultBody;
    if (health.status !== 200 || body.data?.__typename !== 'Query')
      problems.add(
        'health',
        `after ${after}: unhealthy (${health.status}, ${JSON.stringify(body)})`,
      );
  } catch (error) {
    problems.add('health', `after ${after}: the server does not answer: ${String(error)}`);
  }
}

// ---------------------------------------------------------------------------------------------

let adminPrincipal: Principal;
let executorPrincipal: Principal;
const anonymous: Principal = { name: 'anonymous', authorization: async () => null };

beforeAll(async () => {
  captureServerLog();
  server = await startTestServer({
    // Keep the database still between requests: no cron fires, no executor goes offline, no
    // assignment is dispatched again, and failed logins never lock anyone out.
    GRAPHCRON_CRON_TICKER: '0',
    GRAPHCRON_EXECUTOR_HEARTBEAT_TIMEOUT_SECONDS: '3600',
    GRAPHCRON_ASSIGNMENT_ACK_TIMEOUT_SECONDS: '3600',
    GRAPHCRON_LOGIN_MAX_FAILURES_PER_USER: '10000',
    GRAPHCRON_LOGIN_MAX_FAILURES_PER_ADDRESS: '100000',
  });
  admin = await server.asAdmin();
  fx = await setUpFixtures();
  snapshotSql = await buildSnapshotSql();
  const adminToken = `Bearer ${fx.fuzzAdmin.client.token!}`;
  adminPrincipal = { name: 'admin', authorization: async () => adminToken };
  executorPrincipal = {
    name: 'executor',
    authorization: async () => `Bearer ${await fx.protocolExecutor.token()}`,
  };
});

afterAll(async () => {
  restoreServerLog();
  await server?.stop();
  console.log(
    `fuzz (seed ${seed}): ${mutations.length} mutations, ${totals.cases} cases, ` +
      `${totals.requests} requests, ${Math.round((Date.now() - startedAt) / 1000)} s; ` +
      `\n  ${perMutation.join('\n  ')}\n${accepted.length} accepted` +
      (process.env.FUZZ_VERBOSE ? `:\n  ${accepted.join('\n  ')}` : ' (FUZZ_VERBOSE=1 lists them)'),
  );
});

describe('fault: bad input to every mutation', () => {
  it('the schema file lists every mutation the running server has', async () => {
    const result = (await admin.raw('{ __schema { mutationType { fields { name } } } }')) as {
      data: { __schema: { mutationType: { fields: { name: string }[] } } };
    };
    const live = result.data.__schema.mutationType.fields.map((f) => f.name).sort();
    expect(live).toEqual(mutations.map((m) => m.name).sort());
  });

  it('the no-partial-writes check sees a write, and not a heartbeat', async () => {
    const before = await snapshot();
    expect([...before.keys()]).toEqual(expect.arrayContaining(['tasks', 'audit_entries']));
    await sqlRows(
      `update executors set last_heartbeat_at = now(), is_online = true
        where id = ${fx.protocolExecutor.id}`,
    );
    expect(changedTables(before, await snapshot())).toEqual([]);
    await sqlRows(`update tasks set description = description where id = ${fx.victimTaskId}`);
    expect(changedTables(before, await snapshot())).toEqual(['tasks']);
  });

  it('refuses garbage, forged, expired and replayed executor tokens over HTTP', async () => {
    const problems = new Problems();
    const heartbeat: Case = {
      index: 0,
      mutation: 'executorHeartbeat',
      where: 'Authorization',
      label: '',
      encoding: 'document',
      body: JSON.stringify({
        query: 'mutation { executorHeartbeat(input: { runningInstanceIds: [] }) { serverTime } }',
      }),
      mustFail: 'a refused credential',
    };
    const replayed = `Bearer ${await fx.protocolExecutor.token()}`;
    const once = await send(heartbeat, { name: 'executor', authorization: async () => replayed });
    expect(once.succeeded, once.text).toBe(true);
    const tokens = await badExecutorTokens(fx.protocolExecutor);
    for (const [i, [label, authorization]] of [...tokens, ['replayed', replayed]].entries()) {
      const c = { ...heartbeat, index: i + 1, label: String(label) };
      const principal: Principal = {
        name: 'executor',
        authorization: async () => String(authorization),
      };
      const results = await runPass([c], principal, problems);
      const code = results[0]?.body?.errors?.[0]?.extensions?.code;
      // Node refuses a 1 MB header itself (431) before any GraphQL.
      if (code !== 'UNAUTHENTICATED' && results[0]?.status !== 431)
        problems.add(`token-${label}`, `${label}: ${results[0]?.status} ${results[0]?.text}`);
    }
    expect(problems.list.length, problems.list.join('\n\n')).toBe(0);
  });

  for (const [position, mutation] of mutations.entries()) {
    if (only && !only.test(mutation.name)) continue;
    it(`${mutation.name}: refuses bad input cleanly and writes nothing`, async () => {
      const began = Date.now();
      const before = { ...totals };
      const rng = new Rng(seed + position * 7919);
      const cases = builder.casesFor(mutation, rng, position * 100_000);
      totals.cases += cases.length;
      const problems = new Problems();
      // Three phases: values GraphQL refuses (no resolver runs, so no database check), values
      // that must be refused (rarely a success), and values that may be accepted (small
      // batches, as most succeed and a batch with a success has its failures sent again alone).
      const fuzzAs = async (principal: Principal) => [
        ...(await runPass(
          cases.filter((c) => c.mustFail === wrongType),
          principal,
          problems,
        )),
        ...(await runPass(
          cases.filter((c) => c.mustFail !== null && c.mustFail !== wrongType),
          principal,
          problems,
        )),
        ...(await runPass(
          cases.filter((c) => c.mustFail === null),
          principal,
          problems,
          concurrency,
        )),
      ];
      // Where an admin is refused as UNAUTHENTICATED at every resolver reached and an executor
      // is not, only executors may call: fuzz as one, so that authorization is not what stops
      // the input. A sample decides; where it cannot, the whole admin pass does.
      const refusedAll = (results: Result[]) => {
        const reached = results.filter((r) => r.executed);
        return (
          reached.length > 0 &&
          reached.every((r) =>
            r.body?.errors?.every((e) => e.extensions?.code === 'UNAUTHENTICATED'),
          )
        );
      };
      const sample = rng.shuffle(cases.filter((c) => c.mustFail !== wrongType)).slice(0, 6);
      if (refusedAll(await runPass(sample, adminPrincipal, problems, 1))) {
        const asExecutor = await runPass(sample, executorPrincipal, problems, 1);
        await fuzzAs(refusedAll(asExecutor) ? adminPrincipal : executorPrincipal);
      } else if (refusedAll(await fuzzAs(adminPrincipal))) await fuzzAs(executorPrincipal);
      await runPass(rng.shuffle(cases).slice(0, 4), anonymous, problems);
      await assertHealthy(problems, mutation.name);
      perMutation.push(
        `${mutation.name}: ${cases.length} cases, ${totals.requests - before.requests} requests, ` +
          `${totals.snapshots - before.snapshots} snapshots (${totals.snapshotMs - before.snapshotMs} ms), ` +
          `${Date.now() - began} ms`,
      );
      expect(problems.list.length, problems.list.join('\n\n')).toBe(0);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// graphql-ws

interface WsOutcome {
  code: number | null;
  reason: string;
  messages: { type?: string; id?: string; payload?: unknown }[];
}

function openSocket(protocol: string | string[] = 'graphql-transport-ws'): WebSocket {
  return new WebSocket(`ws://127.0.0.1:${server.app.port}/graphql`, protocol);
}

/**
 * Runs `script` on an open socket and collects what the server answers until it closes the
 * socket, `until` says enough, or `timeoutMs` passes.
 */
async function talk(
  script: (socket: WebSocket) => void | Promise<void>,
  until: (o: WsOutcome) => boolean = () => false,
  timeoutMs = 4000,
  socket = openSocket(),
): Promise<WsOutcome> {
  const outcome: WsOutcome = { code: null, reason: '', messages: [] };
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('message', (data: WebSocket.RawData) => {
      try {
        outcome.messages.push(JSON.parse(String(data)) as WsOutcome['messages'][number]);
      } catch {
        outcome.messages.push({ type: `unparsable: ${String(data).slice(0, 100)}` });
      }
      if (until(outcome)) done();
    });
    socket.on('close', (code: number, reason: Buffer) => {
      outcome.code = code;
      outcome.reason = reason.toString();
      done();
    });
    socket.on('error', () => undefined);
    socket.on('open', () => void script(socket));
  });
  if (socket.readyState === WebSocket.OPEN) socket.close(1000);
  return outcome;
}

const init = (payload: unknown = {}) => JSON.stringify({ type: 'connection_init', payload });
const subscribe = (id: string, query: string, variables?: unknown) =>
  JSON.stringify({ id, type: 'subscribe', payload: { query, variables } });
const ws44xx = (o: WsOutcome) => o.code !== null && o.code >= 4400 && o.code < 4500;
const acked = (o: WsOutcome) => o.messages.some((m) => m.type === 'connection_ack');
const answered = (o: WsOutcome) =>
  o.messages.some(
    (m) =>
      m.type === 'error' ||
      (m.type === 'next' && Array.isArray((m.payload as { errors?: unknown }).errors)),
  );

/**
 * Collects what went wrong over a whole test, so one run names every failing message. A 4500
 * close comes with what graphql-ws logged for it.
 */
class WsChecks {
  private readonly failures: string[] = [];
  private check(ok: boolean, what: string, o: WsOutcome): void {
    if (ok) return;
    const logged =
      o.code === 4500
        ? serverErrors
            .filter((l) => l.includes('Internal error'))
            .at(-1)
            ?.slice(0, 800)
        : undefined;
    this.failures.push(
      `[seed=${seed}] ${what}: ${JSON.stringify(o).slice(0, 400)}` +
        (logged ? `\n    server log: ${logged}` : ''),
    );
  }
  /** A refusal: a 44xx close (graphql-ws's codes for a client's mistake), or an error message. */
  refused(o: WsOutcome, what: string): void {
    this.check(ws44xx(o) || answered(o), what, o);
  }
  closed(o: WsOutcome, codes: number[], what: string): void {
    this.check(
      o.code !== null && codes.includes(o.code),
      `${what} (expected ${codes.join(' or ')})`,
      o,
    );
  }
  that(ok: boolean, what: string, o: WsOutcome): void {
    this.check(ok, what, o);
  }
  done(): void {
    expect(this.failures.length, this.failures.join('\n\n')).toBe(0);
  }
}

/** Authorization values that must never authenticate an executor. */
async function badExecutorTokens(executor: TestExecutor): Promise<[string, unknown][]> {
  const now = Math.floor(Date.now() / 1000);
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const unsigned = (claims: object) =>
    `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
  return [
    ['garbage', 'Bearer garbage'],
    ['not bearer', `Basic ${Buffer.from('a:b').toString('base64')}`],
    ['huge', `Bearer ${'a'.repeat(1 << 20)}`],
    ['forged (another key)', `Bearer ${await executor.token({ key: other })}`],
    ['expired', `Bearer ${await executor.token({ iat: now - 400, exp: now - 300 })}`],
    ['too long-lived', `Bearer ${await executor.token({ exp: now + 3600 })}`],
    [
      'alg none',
      `Bearer ${unsigned({ sub: executor.id, aud: 'graphcron-executor', exp: now + 60, iat: now, jti: 'x' })}`,
    ],
    ['unknown executor', `Bearer ${await executor.token({ sub: '999999999' })}`],
    ['executor id past int4', `Bearer ${await executor.token({ sub: '2147483648' })}`],
    ['executor id not a number', `Bearer ${await executor.token({ sub: 'abc' })}`],
  ];
}

describe('fault: malformed graphql-ws traffic', () => {
  let adminToken: string;
  beforeAll(() => {
    adminToken = `Bearer ${fx.fuzzAdmin.client.token!}`;
  });

  const afterInit =
    (...frames: (string | Buffer)[]) =>
    (socket: WebSocket) => {
      socket.send(init({ authorization: adminToken }));
      socket.once('message', () => frames.forEach((f) => socket.send(f)));
    };

  it('closes with 4400 on messages that are not graphql-ws messages', async () => {
    const ws = new WsChecks();
    const frames = [
      'not json {',
      '{"payload":{}}',
      '[1,2,3]',
      '{"type":"bogus"}',
      '{"type":42}',
      JSON.stringify({ type: 'connection_init', payload: 'not an object' }),
      JSON.stringify({ id: 1, type: 'subscribe', payload: { query: '{ __typename }' } }),
      JSON.stringify({ id: '', type: 'subscribe', payload: { query: '{ __typename }' } }),
      JSON.stringify({ id: 'x', type: 'subscribe', payload: { query: 42 } }),
      JSON.stringify({ id: 'x', type: 'subscribe' }),
      JSON.stringify({
        id: 'x',
        type: 'subscribe',
        payload: { query: '{ __typename }', variables: 'x' },
      }),
    ];
    for (const frame of frames) {
      ws.closed(await talk((s) => s.send(frame)), [4400], `before init: ${frame}`);
      ws.closed(await talk(afterInit(frame)), [4400], `after init: ${frame}`);
    }
    ws.closed(
      await talk((s) => s.send(Buffer.from([0, 159, 146, 150]), { binary: true })),
      [4400],
      'binary junk',
    );
    ws.done();
  });

  it('refuses, with a 44xx code, messages only a server sends', async () => {
    const ws = new WsChecks();
    for (const frame of [
      JSON.stringify({ type: 'connection_ack' }),
      JSON.stringify({ id: '1', type: 'next', payload: { data: null } }),
      JSON.stringify({ id: '1', type: 'error', payload: [{ message: 'x' }] }),
    ]) {
      ws.refused(await talk(afterInit(frame)), `client sent ${frame}`);
    }
    ws.done();
  });

  it('keeps to the protocol: subscribe before init, a second init, a duplicate id', async () => {
    const ws = new WsChecks();
    ws.closed(
      await talk((s) => s.send(subscribe('1', '{ __typename }'))),
      [4401],
      'subscribe before init',
    );
    ws.closed(await talk(afterInit(init())), [4429], 'second connection_init');
    const live = `subscription { taskInstanceUpdated(taskId: "${fx.victimTaskId}") { id } }`;
    ws.closed(
      await talk(afterInit(subscribe('dup', live), subscribe('dup', live))),
      [4409],
      'duplicate id',
    );
    ws.closed(await talk(() => undefined, undefined, 5000), [4408], 'no connection_init');
    ws.closed(
      await talk(() => undefined, undefined, 2000, openSocket([])),
      [4406],
      'no subprotocol',
    );
    // A binary frame holding a valid message is read like text.
    const binary = await talk(
      (s) => s.send(Buffer.from(init({ authorization: adminToken })), { binary: true }),
      acked,
    );
    ws.that(acked(binary), 'a binary frame holding connection_init', binary);
    ws.done();
  });

  it('answers an invalid subscribe with an error message, not a closed socket', async () => {
    const ws = new WsChecks();
    const queries: [string, string][] = [
      ['unknown field', 'subscription { noSuchField }'],
      ['syntax error', 'subscription {'],
      ['empty document', ''],
      ['bad variable', 'subscription ($id: ID!) { taskLogAppended(instanceId: $id) { content } }'],
      ['bad argument', 'subscription { taskLogAppended(instanceId: "abc") { content } }'],
      [
        'unknown id',
        'subscription { taskLogAppended(instanceId: "9223372036854775807") { content } }',
      ],
      [
        'two operations, no name',
        'subscription a { executorStatusChanged { id } } subscription b { executorStatusChanged { id } }',
      ],
      [
        'executor-only subscription as a user',
        'subscription { executorAssignments { __typename } }',
      ],
    ];
    for (const [label, query] of queries) {
      ws.refused(await talk(afterInit(subscribe('1', query, { id: null })), answered), label);
    }
    ws.done();
  });

  it('applies the HTTP limits (depth, tokens) to operations over WebSocket too', async () => {
    const ws = new WsChecks();
    let deep = 'name';
    for (let i = 0; i < 20; i++) deep = `ofType { ${deep} }`;
    const tooDeep = `query { __type(name: "Query") { ${deep} } }`;
    // Aliased, so that the document is valid and only its size is wrong (6000 tokens, where
    // HTTP allows GRAPHCRON_MAX_QUERY_TOKENS = 5000).
    const tooLong = `query { ${Array.from({ length: 2000 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    for (const [label, query] of [
      ['nested 22 deep', tooDeep],
      ['6000 tokens, aliased', tooLong],
    ]) {
      ws.refused(
        await talk(afterInit(subscribe('1', query!)), (o) => o.messages.some((m) => m.id === '1')),
        label!,
      );
    }
    ws.done();
  });

  it('survives huge messages', async () => {
    const ws = new WsChecks();
    const big = 'a'.repeat(5 << 20);
    const hugeInit = await talk(
      (s) => s.send(init({ authorization: adminToken, junk: big })),
      acked,
      10_000,
    );
    ws.that(acked(hugeInit) || ws44xx(hugeInit), '5 MB connection_init', hugeInit);
    const hugeQuery = subscribe(
      '1',
      `subscription { taskLogAppended(instanceId: "${big}") { content } }`,
    );
    ws.refused(await talk(afterInit(hugeQuery), answered, 10_000), '5 MB subscribe');
    ws.done();
  });

  it('handles text frames of invalid UTF-8 and connections dropped mid-handshake', async () => {
    const ws = new WsChecks();
    const invalid = await talk((s) =>
      s.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false }),
    );
    // ws itself refuses a text frame that is not UTF-8, with 1007 (RFC 6455).
    ws.closed(invalid, [1007, 4400], 'invalid UTF-8');
    // Half an upgrade request, then gone.
    await new Promise<void>((resolve) => {
      const socket = connect(server.app.port, '127.0.0.1', () => {
        socket.write(
          'GET /graphql HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n',
        );
        setTimeout(() => socket.destroy(), 50);
      });
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
    });
    // Gone right after opening, right after connection_init, and while a subscribe runs.
    for (const frames of [
      [],
      [init({ authorization: adminToken })],
      [init({ authorization: adminToken }), subscribe('1', '{ __typename }')],
    ]) {
      const socket = openSocket();
      socket.on('error', () => undefined);
      await new Promise<void>((resolve) => {
        socket.on('open', () => {
          for (const f of frames) socket.send(f);
          socket.terminate();
          resolve();
        });
      });
    }
    ws.done();
  });

  it('refuses executor connections with a garbage, forged, expired or replayed token', async () => {
    const ws = new WsChecks();
    const executor = fx.protocolExecutor;
    const replayed = await executor.token();
    const tokens = await badExecutorTokens(executor);
    const connectWith = (authorization: unknown) =>
      talk((s) => s.send(init({ authorization })), acked);
    const first = await connectWith(`Bearer ${replayed}`);
    ws.that(acked(first), 'a valid executor token, first use', first);
    tokens.push(['replayed', `Bearer ${replayed}`]);
    for (const [label, authorization] of tokens) {
      ws.closed(await connectWith(authorization), [4403], label);
    }
    // Not a string: no credentials at all, so the executor feed refuses.
    for (const authorization of [42, { token: 'x' }, ['Bearer x']]) {
      const o = await talk((s) => {
        s.send(init({ authorization }));
        s.once('message', () =>
          s.send(subscribe('1', 'subscription { executorAssignments { __typename } }')),
        );
      }, answered);
      ws.refused(o, `authorization ${JSON.stringify(authorization)}`);
    }
    ws.done();
  });

  it('afterwards, normal clients still connect and subscribe', async () => {
    const client = wsClient(server.anonymous.url, () => ({ authorization: adminToken }));
    // A task of its own: the fuzz pass may have left the victim task at its parallel-run limit.
    const watched = await admin.data(CreateTaskDocument, {
      input: { name: 'fuzz-ws-check', command: 'true' },
    });
    const updates = record(client, TaskInstanceUpdatedDocument, {
      taskId: watched.createTask.id,
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // A manual run waits for an executor without a notification; cancelling it notifies.
    const { runTask } = await admin.data(RunTaskDocument, { id: watched.createTask.id });
    await admin.data(CancelTaskInstanceDocument, { id: runTask.id });
    expect((await updates.atLeast(1))[0]?.taskInstanceUpdated.status).toBe('MANUAL_CANCELLATION');
    updates.dispose();
    await client.dispose();

    const feed = fx.protocolExecutor.assignments();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await admin.data(RunTaskDocument, { id: fx.protocolTaskId });
    expect((await feed.atLeast(1))[0]?.executorAssignments.__typename).toBe('ExecutorAssignment');
    feed.dispose();
    await fx.protocolExecutor.close();
    const problems = new Problems();
    await assertHealthy(problems, 'the WebSocket abuse');
    expect(problems.list).toEqual([]);
  });
});
