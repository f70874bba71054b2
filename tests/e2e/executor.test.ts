import { existsSync, readFileSync, rmSync, watch } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CancelTaskInstanceDocument,
  CreateEnrollmentTokenDocument,
  CreateExecutorGroupDocument,
  CreateTaskDocument,
  ExecutorBindingsDocument,
  RunTaskDocument,
  RunTaskWithOverridesDocument,
  type CreateTaskInput,
} from '../generated/graphql.js';
import {
  executorStateDir,
  registerExecutor,
  startExecutorProcess,
  type ExecutorProcess,
} from '../helpers/executor-process.js';
import { waitForJournaledProcessGroup } from '../helpers/executor-journal.js';
import { GraphqlClient } from '../helpers/graphql-client.js';
import { waitForStatus } from '../helpers/runs.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { wsClient } from '../helpers/ws-client.js';

const adminEnv = {
  GRAPHCRON_ADMIN_USERNAME: 'admin',
  GRAPHCRON_ADMIN_PASSWORD: 'e2e-admin-password',
};

async function adminClient(url: string): Promise<GraphqlClient> {
  const result = await new GraphqlClient(url).raw(
    'mutation { login(username: "admin", password: "e2e-admin-password") { accessToken } }',
  );
  return new GraphqlClient(
    url,
    (result.data as { login: { accessToken: string } }).login.accessToken,
  );
}

/** Running, or a zombie nobody reaped yet (state Z): a zombie is dead for our purpose. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Resolves when `file` exists: the run's own signal that it got that far. */
function fileAppears(file: string): Promise<void> {
  return new Promise((resolve) => {
    if (existsSync(file)) return resolve();
    const watcher = watch(path.dirname(file), () => {
      if (existsSync(file)) {
        watcher.close();
        resolve();
      }
    });
  });
}

/** A server process with one registered executor process, bound into a group. */
async function fleet(database: TestDatabase, port: number, env: Record<string, string> = {}) {
  const serverEnv = {
    DATABASE_URL: database.url,
    PORT: String(port),
    ...adminEnv,
    GRAPHCRON_EXECUTOR_HEARTBEAT_TIMEOUT_SECONDS: '3',
    ...env,
  };
  const server = await startServerProcess(serverEnv);
  const admin = await adminClient(server.url);
  const socket = wsClient(server.url, () => ({ authorization: `Bearer ${admin.token}` }));
  const { createExecutorGroup } = await admin.data(CreateExecutorGroupDocument, {
    input: { name: 'e2e' },
  });
  const { createEnrollmentToken } = await admin.data(CreateEnrollmentTokenDocument, {
    groupId: createExecutorGroup.id,
  });
  const stateDir = executorStateDir();
  await registerExecutor({
    serverUrl: server.url,
    token: createEnrollmentToken.token,
    name: 'e2e-worker',
    stateDir,
  });
  // At info it says what it acts on (the cancel test reads it).
  const executor = await startExecutorProcess(stateDir, { GRAPHCRON_EXECUTOR_LOG_LEVEL: 'info' });
  const { executorBindings } = await admin.data(ExecutorBindingsDocument, {
    filter: { groupId: createExecutorGroup.id },
  });
  const bindingIds = executorBindings.nodes.map((b) => b.id);
  let taskCount = 0;
  const run = async (input: Partial<CreateTaskInput> & { command: string }) => {
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: { name: `e2e task ${++taskCount}`, bindingIds, ...input },
    });
    const { runTask } = await admin.data(RunTaskDocument, { id: createTask.id });
    return runTask.id;
  };
  return { server, serverEnv, admin, socket, stateDir, executor, run };
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('server and executor processes, end to end', () => {
  let database: TestDatabase;
  let server: ServerProcess;
  let executor: ExecutorProcess;
  let admin: GraphqlClient;
  let socket: Client;
  let stateDir: string;
  let run: Awaited<ReturnType<typeof fleet>>['run'];
  let httpTarget: Server;
  const cleanups: (() => unknown)[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    ({ server, executor, admin, socket, stateDir, run } = await fleet(database, 0));
    httpTarget = createServer((req, res) => {
      res.statusCode = req.url === '/fail' ? 500 : 200;
      res.end(req.url === '/fail' ? 'boom' : `pong ${req.method}`);
    });
    await new Promise<void>((resolve) => httpTarget.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const cleanup of cleanups) await cleanup();
    await socket?.dispose();
    await executor?.stop('SIGKILL');
    await server?.stop();
    httpTarget?.close();
    await database?.drop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it('runs `echo hello`: FINISHED, exit code 0, the line in its log', async () => {
    const id = await run({ command: 'echo hello' });
    const outcome = await waitForStatus(admin, socket, id, [
      'FINISHED',
      'ABNORMAL_ENDING',
      'TIMEOUT_ENDING',
    ]);
    expect(outcome).toMatchObject({ status: 'FINISHED', exitCode: 0 });
    expect(outcome.logs.nodes.map((l) => l.content).join('')).toBe('hello\n');
    const latencyMs = Date.parse(outcome.startedAt!) - Date.parse(outcome.createdAt);
    console.log(`runTask → reportTaskStarted (startedAt − createdAt): ${latencyMs} ms`);
  });

  it('a manual run with overrides gets its env and arguments exactly as given', async () => {
    const { createTask } = await admin.data(CreateTaskDocument, {
      input: { name: 'overrides', command: 'printf "%s|" "$GREETING"', bindingIds: ['1'] },
    });
    const { runTask } = await admin.data(RunTaskWithOverridesDocument, {
      id: createTask.id,
      overrides: {
        env: [{ name: 'GREETING', value: 'bonjour' }],
        arguments: ["it's", 'a b', '$HOME'],
      },
    });
    const outcome = await waitForStatus(admin, socket, runTask.id, ['FINISHED', 'ABNORMAL_ENDING']);
    expect(outcome.logs.nodes.map((l) => l.content).join('')).toBe("bonjour|it's|a b|$HOME|");
  });

  it('a failing command ends ABNORMAL_ENDING with its exit code and stderr', async () => {
    const id = await run({ command: 'echo oops >&2; exit 3' });
    const outcome = await waitForStatus(admin, socket, id, ['FINISHED', 'ABNORMAL_ENDING']);
    expect(outcome).toMatchObject({ status: 'ABNORMAL_ENDING', exitCode: 3 });
    expect(outcome.logs.nodes).toEqual([
      expect.objectContaining({ stream: 'STDERR', content: 'oops\n' }),
    ]);
  });

  it('`sleep 30` with a 1 s timeout ends TIMEOUT_ENDING and leaves no process behind', async () => {
    const id = await run({ command: 'sleep 30 & echo "child $!"; wait', timeoutSeconds: 1 });
    const outcome = await waitForStatus(admin, socket, id, [
      'TIMEOUT_ENDING',
      'FINISHED',
      'ABNORMAL_ENDING',
    ]);
    expect(outcome.status).toBe('TIMEOUT_ENDING');
    const pid = Number(/child (\d+)/.exec(outcome.logs.nodes.map((l) => l.content).join(''))?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(isAlive(pid)).toBe(false);
  });

  // Typical: 25-170 ms, up to ~450 ms with the suite run twice at once on 2 cores. How fast is
  // the bench's business; this checks the cancel is pushed to the executor and acted on at once,
  // well before the command or the heartbeat window (3 s) would end the run. (The rare 20 s seen
  // in CI was the test's own wait missing the update: taskInstanceUpdated now sends the run's
  // state as the subscription starts.)
  it('cancel ends a running command MANUAL_CANCELLATION, pushed to the executor', async () => {
    const id = await run({ command: 'sleep 30' });
    await waitForStatus(admin, socket, id, ['RUNNING']);
    const cancelledAt = Date.now();
    await admin.data(CancelTaskInstanceDocument, { id });
    const outcome = await waitForStatus(admin, socket, id, [
      'MANUAL_CANCELLATION',
      'FINISHED',
      'ABNORMAL_ENDING',
    ]);
    const tookMs = Date.now() - cancelledAt;
    console.log(`cancelTaskInstance → MANUAL_CANCELLATION: ${tookMs} ms`);
    expect(outcome.status).toBe('MANUAL_CANCELLATION');
    // On failure, what the executor said is the first thing to read.
    expect(executor.output(), executor.output().slice(-4000)).toMatch(
      new RegExp(`"message":"cancelling a run","run":"${id}[^"]*","reason":"cancelled by a user"`),
    );
    expect(tookMs, executor.output().slice(-4000)).toBeLessThan(2_500);
  });

  it('runs HTTP tasks against a local server: expected status FINISHED, other ABNORMAL_ENDING', async () => {
    const base = `http://127.0.0.1:${(httpTarget.address() as AddressInfo).port}`;
    const ok = await run({
      kind: 'HTTP',
      command: '',
      httpRequest: { method: 'POST', url: `${base}/ping`, body: 'x' },
    });
    const okOutcome = await waitForStatus(admin, socket, ok, ['FINISHED', 'ABNORMAL_ENDING']);
    expect(okOutcome).toMatchObject({ status: 'FINISHED', exitCode: 200 });
    expect(okOutcome.logs.nodes.map((l) => l.content).join('')).toContain('pong POST');
    const failing = await run({ kind: 'HTTP', command: '', httpRequest: { url: `${base}/fail` } });
    expect(
      await waitForStatus(admin, socket, failing, ['FINISHED', 'ABNORMAL_ENDING']),
    ).toMatchObject({
      status: 'ABNORMAL_ENDING',
      exitCode: 500,
    });
  });

  it('an executor killed with SIGKILL mid-run: the run ends UNKNOWN after the heartbeat window', async () => {
    const id = await run({ command: 'echo "child $$"; exec sleep 30' });
    const running = await waitForStatus(admin, socket, id, ['RUNNING']);
    void running;
    await executor.stop('SIGKILL');
    const outcome = await waitForStatus(admin, socket, id, ['UNKNOWN', 'FINISHED'], 15_000);
    expect(outcome.status).toBe('UNKNOWN');
    expect(outcome.statusReason).toMatch(/stopped sending heartbeats/);
    const pid = Number(/child (\d+)/.exec(outcome.logs.nodes.map((l) => l.content).join(''))?.[1]);
    if (pid > 0 && isAlive(pid)) process.kill(pid, 'SIGKILL'); // orphaned by the SIGKILL: ours to clean up
    executor = await startExecutorProcess(stateDir);
  });
});

describe('an executor that starts again without its run journal (a machine crash)', () => {
  it('its running run ends ABNORMAL_ENDING as soon as it is back, not after the heartbeat window', async () => {
    const database = await createTestDatabase();
    // A window far longer than the test: the run must be ended by the restart, not by silence.
    const setup = await fleet(database, 0, { GRAPHCRON_EXECUTOR_HEARTBEAT_TIMEOUT_SECONDS: '300' });
    let { executor } = setup;
    const { admin, socket, stateDir } = setup;
    try {
      const id = await setup.run({ command: 'exec sleep 60' });
      await waitForStatus(admin, socket, id, ['RUNNING']);
      const groupId = await waitForJournaledProcessGroup(stateDir);
      // The crash: the executor and its command die, and the journal's last writes, never
      // fsynced, are lost with the page cache.
      await executor.stop('SIGKILL');
      process.kill(-groupId, 'SIGKILL');
      rmSync(path.join(stateDir, 'runs'), { recursive: true, force: true });

      const restartedAt = Date.now();
      executor = await startExecutorProcess(stateDir);
      const outcome = await waitForStatus(
        admin,
        socket,
        id,
        ['ABNORMAL_ENDING', 'UNKNOWN', 'FINISHED'],
        30_000,
      );
      console.log(`executor restart → lost run ended: ${Date.now() - restartedAt} ms`);
      expect(outcome.status).toBe('ABNORMAL_ENDING');
      expect(outcome.statusReason).toMatch(/started again without a record of this run/);
      expect(executor.output()).toContain('connected to');
    } finally {
      await socket.dispose();
      await executor.stop('SIGKILL');
      await setup.server.stop();
      await database.drop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

describe('a server restart in the middle of a run', () => {
  it('the run finishes and its whole log arrives exactly once', async () => {
    const database = await createTestDatabase();
    const port = await freePort();
    const setup = await fleet(database, port, {
      GRAPHCRON_EXECUTOR_HEARTBEAT_TIMEOUT_SECONDS: '30',
    });
    let { server, admin, socket } = setup;
    const marker = path.join(tmpdir(), `graphcron-restart-${process.pid}-${Date.now()}`);
    try {
      const id = await setup.run({
        command: `for i in 1 2 3 4 5 6; do echo "line $i"; sleep 0.3; done; touch ${marker}`,
      });
      await waitForStatus(admin, socket, id, ['RUNNING']);
      await socket.dispose();
      expect(await server.stop('SIGTERM')).toBe(0);
      await fileAppears(marker); // the run ended while the server was down
      server = await startServerProcess(setup.serverEnv);
      admin = await adminClient(server.url);
      socket = wsClient(server.url, () => ({ authorization: `Bearer ${admin.token}` }));
      const outcome = await waitForStatus(
        admin,
        socket,
        id,
        ['FINISHED', 'ABNORMAL_ENDING'],
        30_000,
      );
      expect(outcome.status).toBe('FINISHED');
      expect(outcome.logs.nodes.map((l) => l.content).join('')).toBe(
        'line 1\nline 2\nline 3\nline 4\nline 5\nline 6\n',
      );
      const seqs = outcome.logs.nodes.map((l) => l.seq);
      expect(new Set(seqs).size).toBe(seqs.length);
    } finally {
      rmSync(marker, { force: true });
      await socket.dispose();
      await setup.executor.stop('SIGKILL');
      await server.stop();
      await database.drop();
      rmSync(setup.stateDir, { recursive: true, force: true });
    }
  });
});

describe('two server replicas on one database', () => {
  it('an executor connected to one replica gets work created through the other', async () => {
    const database = await createTestDatabase();
    const setup = await fleet(database, 0);
    const other = await startServerProcess({ ...setup.serverEnv, PORT: '0' });
    const viaOther = await adminClient(other.url);
    try {
      const { createTask } = await viaOther.data(CreateTaskDocument, {
        input: { name: 'across replicas', command: 'echo across', bindingIds: ['1'] },
      });
      const { runTask } = await viaOther.data(RunTaskDocument, { id: createTask.id });
      const outcome = await waitForStatus(setup.admin, setup.socket, runTask.id, [
        'FINISHED',
        'ABNORMAL_ENDING',
      ]);
      expect(outcome.status).toBe('FINISHED');
      expect(outcome.logs.nodes.map((l) => l.content).join('')).toBe('across\n');
    } finally {
      await setup.socket.dispose();
      await setup.executor.stop('SIGKILL');
      await other.stop();
      await setup.server.stop();
      await database.drop();
      rmSync(setup.stateDir, { recursive: true, force: true });
    }
  });
});
