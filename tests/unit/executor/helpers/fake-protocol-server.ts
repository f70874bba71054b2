import { createPublicKey, type KeyObject } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { buildSchema, graphql, GraphQLError, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { jwtVerify } from 'jose';
import { WebSocketServer } from 'ws';
import type { ExecutorMessage } from '../../../../executor/work/executor-message.js';

/** One mutation the executor made over HTTP. */
export interface ProtocolCall {
  readonly field: string;
  readonly args: Record<string, unknown>;
  /** From the verified token; undefined for registerExecutor. */
  readonly executorId: string | undefined;
  /** The request's own token; undefined over the WebSocket (authenticated when it connected). */
  readonly jti: string | undefined;
  readonly transport: 'http' | 'ws';
}

/** Returns a result, or throws (e.g. `protocolError('CONFLICT')`) to answer with an error. */
export type CallHandler = (call: ProtocolCall) => unknown;

type ExecutorReportKind = 'ACKNOWLEDGED' | 'STARTED' | 'LOGS' | 'FINISHED';

export function protocolError(code: string, message = `refused: ${code}`): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}

/**
 * A stand-in for the graphcron server, built from the real SDL (schema/schema.graphql), that
 * speaks the executor protocol for real: graphql-ws on /graphql (a refused token closes 4403),
 * GraphQL over HTTP for mutations, RS256 executor tokens verified with jose, replays refused.
 */
export class FakeProtocolServer {
  readonly calls: ProtocolCall[] = [];
  /** One entry per mutation request as sent (a batch of reports is one request). */
  readonly requests: ProtocolCall[] = [];
  readonly publicKeys = new Map<string, KeyObject>();
  /** When false, every WebSocket connection is refused (closed 4403). */
  isAcceptingConnections = true;
  /** Override answers per mutation field; unset fields get a plausible success. */
  handlers: Partial<Record<string, CallHandler>> = {};
  /** This many next subscriptions fail with a GraphQL error (e.g. the server's database is down). */
  failNextSubscriptions = 0;
  /** This many next HTTP requests get their socket destroyed (a network failure). */
  dropNextRequests = 0;
  connectionCount = 0;
  /** Subscriptions opened so far, ended ones included. */
  subscriptionCount = 0;

  refusedConnectionCount = 0;
  private readonly events = new EventEmitter();
  private readonly seenJtis = new Set<string>();
  private readonly subscribers = new Set<(message: ExecutorMessage) => void>();
  private nextExecutorId = 1;

  private constructor(
    private readonly schema: GraphQLSchema,
    private readonly httpServer: Server,
    private readonly webSocketServer: WebSocketServer,
    private readonly closeWebSockets: () => Promise<void>,
  ) {}

  get url(): string {
    const { port } = this.httpServer.address() as AddressInfo;
    return `http://127.0.0.1:${port}/graphql`;
  }

  static async start(): Promise<FakeProtocolServer> {
    const schema = buildSchema(readFileSync(path.resolve('schema', 'schema.graphql'), 'utf8'));
    const httpServer = createServer();
    const webSocketServer = new WebSocketServer({ server: httpServer, path: '/graphql' });
    // eslint-disable-next-line prefer-const -- assigned once the server object exists.
    let fake: FakeProtocolServer;
    const cleanup = useServer<Record<string, unknown>, { executorId?: string }>(
      {
        schema,
        onConnect: async (context) => {
          const authorization = context.connectionParams?.authorization;
          const identity =
            fake.isAcceptingConnections && typeof authorization === 'string'
              ? await fake.verify(authorization).catch(() => undefined)
              : undefined;
          if (!identity) {
            fake.refusedConnectionCount += 1;
            return false;
          }
          fake.connectionCount += 1;
          context.extra.executorId = identity.executorId;
          return true;
        },
        context: (context) => ({ executorId: context.extra.executorId }),
        roots: {
          // Operations over an authenticated socket: the executor sends its reports this way.
          mutation: new Proxy(
            {},
            {
              get:
                (_target, field) =>
                (args: Record<string, unknown>, context: { executorId?: string }) =>
                  fake.answer({
                    field: String(field),
                    args,
                    executorId: context.executorId,
                    jti: undefined,
                    transport: 'ws',
                  }),
            },
          ),
          subscription: {
            executorAssignments: () => {
              if (fake.failNextSubscriptions > 0) {
                fake.failNextSubscriptions -= 1;
                throw protocolError('INTERNAL_SERVER_ERROR', 'database unavailable');
              }
              return fake.subscription();
            },
          },
        },
      },
      webSocketServer,
    );
    fake = new FakeProtocolServer(schema, httpServer, webSocketServer, async () => {
      await cleanup.dispose();
    });
    httpServer.on('request', (request, response) => {
      if (fake.dropNextRequests > 0) {
        fake.dropNextRequests -= 1;
        request.socket.destroy();
        return;
      }
      void fake.handleHttp(request).then(({ status, body }) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      });
    });
    httpServer.listen(0, '127.0.0.1');
    await once(httpServer, 'listening');
    return fake;
  }

  /** Sends a message to every connected executor subscription. */
  push(message: ExecutorMessage): void {
    for (const subscriber of this.subscribers) subscriber(message);
  }

  /** Cuts every WebSocket without a close handshake, as a network failure would. */
  dropWebSockets(): void {
    for (const socket of this.webSocketServer.clients) socket.terminate();
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /**
   * Resolves once `count` subscriptions have been opened in all. After a reconnect, unlike
   * waitForSubscriber(): the old subscription may linger until the next push ends it.
   */
  async waitForSubscriptions(count: number): Promise<void> {
    while (this.subscriptionCount < count) await once(this.events, 'subscribed');
  }

  /** Resolves with the first call (past or future) that matches. */
  async waitForCall(predicate: (call: ProtocolCall) => boolean): Promise<ProtocolCall> {
    const seen = this.calls.find(predicate);
    if (seen) return seen;
    return new Promise((resolve) => {
      const listener = (call: ProtocolCall): void => {
        if (!predicate(call)) return;
        this.events.off('call', listener);
        resolve(call);
      };
      this.events.on('call', listener);
    });
  }

  /** Resolves once a subscription is open. */
  async waitForSubscriber(): Promise<void> {
    if (this.subscribers.size > 0) return;
    await once(this.events, 'subscribed');
  }

  callsTo(field: string): ProtocolCall[] {
    return this.calls.filter((call) => call.field === field);
  }

  async stop(): Promise<void> {
    await this.closeWebSockets();
    this.httpServer.closeAllConnections();
    await new Promise<void>((resolve) => this.httpServer.close(() => resolve()));
  }

  private async *subscription(): AsyncGenerator<{ executorAssignments: ExecutorMessage }> {
    const queue: ExecutorMessage[] = [];
    let wake: (() => void) | undefined;
    const subscriber = (message: ExecutorMessage): void => {
      queue.push(message);
      wake?.();
    };
    this.subscribers.add(subscriber);
    this.subscriptionCount += 1;
    this.events.emit('subscribed');
    try {
      for (;;) {
        const message = queue.shift();
        if (message) {
          yield { executorAssignments: message };
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      this.subscribers.delete(subscriber);
    }
  }

  private async verify(authorization: string): Promise<{ executorId: string; jti: string }> {
    const token = authorization.replace(/^Bearer /, '');
    const [, payloadPart] = token.split('.');
    const claims = JSON.parse(Buffer.from(payloadPart ?? '', 'base64url').toString()) as {
      sub?: string;
    };
    const key = this.publicKeys.get(String(claims.sub));
    if (!key) throw new Error(`unknown executor ${claims.sub}`);
    const { payload } = await jwtVerify(token, key, {
      audience: 'graphcron-executor',
      algorithms: ['RS256'],
      requiredClaims: ['exp', 'iat', 'jti', 'sub'],
    });
    const jti = String(payload.jti);
    if (this.seenJtis.has(jti)) throw new Error('replayed token');
    this.seenJtis.add(jti);
    return { executorId: String(payload.sub), jti };
  }

  private async handleHttp(request: IncomingMessage): Promise<{ status: number; body: unknown }> {
    let text = '';
    for await (const part of request) text += String(part);
    const { query, variables } = JSON.parse(text) as {
      query: string;
      variables?: Record<string, unknown>;
    };
    let identity: { executorId: string; jti: string } | undefined;
    let authFailure: string | undefined;
    const authorization = request.headers.authorization;
    if (authorization) {
      identity = await this.verify(authorization).catch((error: Error) => {
        authFailure = error.message;
        return undefined;
      });
    }
    const schema = this.schema;
    const mutationFields = Object.keys(schema.getMutationType()?.getFields() ?? {});
    const rootValue = Object.fromEntries(
      mutationFields.map((field) => [
        field,
        (args: Record<string, unknown>) => {
          if (field !== 'registerExecutor' && !identity) {
            throw protocolError('UNAUTHENTICATED', authFailure ?? 'no executor token');
          }
          return this.answer({
            field,
            args,
            executorId: identity?.executorId,
            jti: identity?.jti,
            transport: 'http',
          });
        },
      ]),
    );
    const result = await graphql({ schema, source: query, variableValues: variables, rootValue });
    return { status: 200, body: result };
  }

  /** One authenticated request (a mutation), by either transport. */
  private answer(call: ProtocolCall): unknown {
    this.requests.push(call);
    if (call.field === 'submitExecutorReports' && !this.handlers[call.field])
      return this.applyBatch(call);
    return this.record(call);
  }

  private record(call: ProtocolCall): unknown {
    this.calls.push(call);
    this.events.emit('call', call);
    const handler = this.handlers[call.field];
    return handler ? handler(call) : this.defaultAnswer(call);
  }

  /**
   * `submitExecutorReports`, as the real server applies it: each report in the order
   * acknowledged, started, logs, finished is recorded as the single mutation it stands for (so
   * tests see what was reported, however it was batched); a report whose handler throws
   * CONFLICT, NOT_FOUND or BAD_USER_INPUT is listed as refused, any other error fails the call.
   */
  private applyBatch(call: ProtocolCall): unknown {
    const input = call.args.input as Record<string, Record<string, unknown>[]>;
    const reports: (readonly [string, ExecutorReportKind, Record<string, unknown>])[] = [
      ...input.acknowledged!.map((r) => ['acknowledgeAssignment', 'ACKNOWLEDGED', r] as const),
      ...input.started!.map((r) => ['reportTaskStarted', 'STARTED', { input: r }] as const),
      ...input.logs!.map((r) => ['appendTaskLogs', 'LOGS', { input: r }] as const),
      ...input.finished!.map((r) => ['reportTaskFinished', 'FINISHED', { input: r }] as const),
    ];
    const refused: Record<string, unknown>[] = [];
    let storedLogChunks = 0;
    for (const [field, kind, args] of reports) {
      const key = (args.input ?? args) as { instanceId: string; attempt: number };
      try {
        this.record({ ...call, field, args });
        if (kind === 'LOGS') storedLogChunks += (key as { chunks?: unknown[] }).chunks?.length ?? 0;
      } catch (error) {
        const code = error instanceof GraphQLError ? error.extensions.code : undefined;
        if (code !== 'CONFLICT' && code !== 'NOT_FOUND' && code !== 'BAD_USER_INPUT') throw error;
        refused.push({
          kind,
          instanceId: key.instanceId,
          attempt: key.attempt,
          code,
          message: (error as Error).message,
          field: null,
        });
      }
    }
    return { refused, storedLogChunks, duplicateLogChunks: 0 };
  }

  private defaultAnswer(call: ProtocolCall): unknown {
    const input = call.args.input as Record<string, unknown> | undefined;
    switch (call.field) {
      case 'registerExecutor': {
        const id = String(this.nextExecutorId++);
        this.publicKeys.set(id, createPublicKey(String(input?.publicKey)));
        return { id, name: input?.name, host: input?.host };
      }
      case 'appendTaskLogs':
        return { stored: (input?.chunks as unknown[]).length, duplicates: 0 };
      case 'executorHeartbeat':
        return { abandonedInstanceIds: [], serverTime: new Date().toISOString() };
      case 'reconcileExecutorRuns':
        return { endedInstanceIds: [] };
      case 'reportTaskStarted':
      case 'reportTaskFinished':
        return { id: input?.instanceId };
      default:
        return true;
    }
  }
}
