import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import type { BenchGraphql } from '../support/graphql.js';
import { adminGraphql, startServer } from '../support/graphcron.js';
import { MeasurementConnection } from '../support/database-poll.js';
import { inspectorUrlIn, liveMemory } from '../support/inspector-memory.js';
import { cpuTimeMs, residentBytes } from '../support/process-stats.js';
import type { BenchPostgres } from '../support/postgres.js';
import { runTasksInBatches } from '../support/tasks.js';
import { profileArgs } from './graphcron-stack.js';

export interface ExecutorScaleOptions {
  connections: number;
  /** Seconds of idle (heartbeats only) over which CPU is measured. */
  idleSeconds: number;
  /** Runs pushed to the connected executors to measure pushes/s. */
  pushes: number;
  heartbeatSeconds: number;
}

export interface ExecutorScaleResult {
  connections: number;
  serverRssBeforeMb: number;
  serverRssAfterMb: number;
  rssPerConnectionKb: number;
  /**
   * The server's live memory per connection: heap in use plus external memory after a full
   * garbage collection, connected and idle versus before connecting (RSS also counts garbage
   * and the heap's reserve, which grow with the heartbeat traffic).
   */
  liveKbPerConnection: number;
  /** Server CPU while idle with every executor connected and heartbeating, in cores. */
  idleServerCores: number;
  pushesPerSecond: number;
  connectSeconds: number;
}

/** A minimal executor: one key, a subscription, heartbeats. What the server sees is the same. */
class LightweightExecutor {
  received = 0;
  private readonly client: Client;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: string,
    readonly id: string,
    private readonly key: KeyObject,
    private readonly onAssignment: () => void,
  ) {
    this.client = createClient({
      url: url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 0,
      connectionParams: async () => ({ authorization: `Bearer ${await this.token()}` }),
    });
  }

  private token(): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'RS256' })
      .setSubject(this.id)
      .setAudience('graphcron-executor')
      .setIssuedAt(now)
      .setExpirationTime(now + 120)
      .setJti(randomUUID())
      .sign(this.key);
  }

  subscribe(): void {
    this.client.subscribe(
      {
        query:
          'subscription { executorAssignments { __typename ... on ExecutorAssignment { instanceId attempt command } } }',
      },
      {
        next: () => {
          this.received++;
          this.onAssignment();
        },
        error: (error: unknown) => console.error(`executor ${this.id}: subscription error`, error),
        complete: () => undefined,
      },
    );
  }

  startHeartbeats(seconds: number): void {
    // Spread over the interval, as independent machines would be.
    const beat = async (): Promise<void> => {
      const response = await fetch(this.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${await this.token()}`,
        },
        body: JSON.stringify({
          query: 'mutation { executorHeartbeat(input: { runningInstanceIds: [] }) { serverTime } }',
        }),
      }).catch(() => undefined);
      await response?.text();
    };
    setTimeout(
      () => {
        void beat();
        this.heartbeat = setInterval(() => void beat(), seconds * 1000);
      },
      Math.random() * seconds * 1000,
    );
  }

  async dispose(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.client.dispose();
  }
}

/**
 * Workload 5: `connections` executors connected to one server at once: the server's memory per
 * connection, its CPU while they only heartbeat, and how fast it pushes assignments to them.
 */
export async function graphcronExecutorScale(
  postgres: BenchPostgres,
  options: ExecutorScaleOptions,
): Promise<ExecutorScaleResult> {
  const database = await postgres.createDatabase('scale');
  // The inspector on a free local port: the bench reads live memory through it.
  const server = await startServer(
    database.url,
    { GRAPHCRON_EXECUTOR_HEARTBEAT_TIMEOUT_SECONDS: String(options.heartbeatSeconds * 4) },
    ['--inspect=127.0.0.1:0', ...profileArgs('scale')],
  );
  const inspectorUrl = inspectorUrlIn(server.output());
  const executors: LightweightExecutor[] = [];
  const db = await MeasurementConnection.open(database.url);
  try {
    const graphql = await adminGraphql(server.url);
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const { groupId, registered } = await registerMany(
      graphql,
      server.url,
      publicPem,
      options.connections,
    );
    let received = 0;
    let firstPushAt = 0;
    let lastPushAt = 0;
    const onAssignment = (): void => {
      received++;
      lastPushAt = performance.now();
      if (firstPushAt === 0) firstPushAt = lastPushAt;
    };
    for (const id of registered) {
      executors.push(new LightweightExecutor(server.url, id, privateKey, onAssignment));
    }
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    // Both after a full collection (liveMemory runs one), so that RSS compares like with like.
    const liveBefore = await liveMemory(inspectorUrl);
    const rssBefore = residentBytes(server.pid);
    const connectStarted = performance.now();
    for (const executor of executors) executor.subscribe();
    const online = async (): Promise<number> =>
      Number(
        (await db.rows<{ n: string }>('select count(*) as n from executors where is_online'))[0]!.n,
      );
    if (!(await db.waitFor(async () => (await online()) >= options.connections, 120_000, 200))) {
      throw new Error(`only ${await online()} of ${options.connections} executors came online`);
    }
    const connectSeconds = (performance.now() - connectStarted) / 1000;
    for (const executor of executors) executor.startHeartbeats(options.heartbeatSeconds);
    // Settle: the first heartbeats land and the server's heap reaches its steady size.
    await new Promise((resolve) => setTimeout(resolve, options.heartbeatSeconds * 1000 + 2_000));
    const cpuBefore = cpuTimeMs(server.pid);
    await new Promise((resolve) => setTimeout(resolve, options.idleSeconds * 1000));
    const idleServerCores = (cpuTimeMs(server.pid) - cpuBefore) / 1000 / options.idleSeconds;
    const liveAfter = await liveMemory(inspectorUrl);
    const rssAfter = residentBytes(server.pid);
    const liveBytes = (memory: typeof liveBefore): number => memory.heapUsed + memory.external;

    const { bindingIds } = await bindingsOf(graphql, groupId);
    const { createTask } = await graphql.request<{ createTask: { id: string } }>(
      'mutation ($input: CreateTaskInput!) { createTask(input: $input) { id } }',
      {
        input: {
          name: 'bench pushes',
          command: 'true',
          bindingIds,
          routingStrategy: 'ROUND_ROBIN',
          maxParallelRuns: 10_000,
          overlapPolicy: 'WAIT',
        },
      },
    );
    await runTasksInBatches(graphql, [createTask.id], options.pushes);
    const deadline = Date.now() + 120_000;
    while (received < options.pushes && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const pushSeconds = (lastPushAt - firstPushAt) / 1000;
    return {
      connections: options.connections,
      serverRssBeforeMb: Math.round(rssBefore / 2 ** 20),
      serverRssAfterMb: Math.round(rssAfter / 2 ** 20),
      rssPerConnectionKb: Math.round((rssAfter - rssBefore) / 1024 / options.connections),
      liveKbPerConnection: Math.round(
        (liveBytes(liveAfter) - liveBytes(liveBefore)) / 1024 / options.connections,
      ),
      idleServerCores: Math.round(idleServerCores * 1000) / 1000,
      pushesPerSecond: Math.round(received / pushSeconds),
      connectSeconds: Math.round(connectSeconds * 10) / 10,
    };
  } finally {
    await Promise.all(executors.map((executor) => executor.dispose().catch(() => undefined)));
    await db.close();
    await server.stop('SIGTERM');
    await database.drop();
  }
}

async function registerMany(
  graphql: BenchGraphql,
  url: string,
  publicKey: string,
  count: number,
): Promise<{ groupId: string; registered: string[] }> {
  const { createExecutorGroup } = await graphql.request<{ createExecutorGroup: { id: string } }>(
    'mutation { createExecutorGroup(input: { name: "bench scale" }) { id } }',
  );
  const groupId = createExecutorGroup.id;
  const registered: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < count) {
        const index = next++;
        const { createEnrollmentToken } = await graphql.request<{
          createEnrollmentToken: { token: string };
        }>('mutation ($g: ID!) { createEnrollmentToken(groupId: $g) { token } }', { g: groupId });
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            query:
              'mutation ($input: RegisterExecutorInput!) { registerExecutor(input: $input) { id } }',
            variables: {
              input: {
                enrollmentToken: createEnrollmentToken.token,
                name: `light-${index + 1}`,
                host: `light-${index + 1}:9100`,
                publicKey,
                capacity: 1000,
              },
            },
          }),
        });
        const body = (await response.json()) as { data?: { registerExecutor: { id: string } } };
        if (!body.data) throw new Error(`registerExecutor failed: ${JSON.stringify(body)}`);
        registered.push(body.data.registerExecutor.id);
      }
    }),
  );
  return { groupId, registered };
}

interface BindingPage {
  executorBindings: {
    nodes: { id: string }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

async function bindingsOf(
  graphql: BenchGraphql,
  groupId: string,
): Promise<{ bindingIds: string[] }> {
  const bindingIds: string[] = [];
  let after: string | null = null;
  for (;;) {
    const page: BindingPage = await graphql.request<BindingPage>(
      'query ($g: ID!, $after: String) { executorBindings(filter: { groupId: $g }, first: 500, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } }',
      { g: groupId, after },
    );
    const { executorBindings } = page;
    bindingIds.push(...executorBindings.nodes.map((node) => node.id));
    if (!executorBindings.pageInfo.hasNextPage) return { bindingIds };
    after = executorBindings.pageInfo.endCursor;
  }
}
