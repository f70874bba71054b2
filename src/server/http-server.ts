import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { GraphQLSchema } from 'graphql';
import { WebSocketServer } from 'ws';
import { authenticate, noCredentials, type Credentials } from '../auth/authenticate.js';
import type { KeyRing } from '../auth/signing-keys.js';
import type { Config } from '../config.js';
import { AppError } from '../shared/app-error.js';
import type { Logger } from '../shared/logger.js';
import type { RequestContext } from './context.js';
import { createFormatError, isExpectedError } from './format-error.js';
import { serveGraphqlWs } from './graphql-ws-server.js';
import { depthLimitRule } from './query-limits.js';
import { HttpRequestError, readJsonBody } from './request-body.js';
import type { Services } from './services.js';
import { formattedErrors, limitedOperations } from './ws-operations.js';

export interface HttpServerDeps {
  config: Config;
  orm: MikroORM;
  schema: GraphQLSchema;
  services: Services;
  keys: KeyRing;
  logger: Logger;
}

/** What a WebSocket remembers between its operations. */
type SocketExtra = {
  credentials?: Credentials & { authFailure: null };
};

export interface RunningHttpServer {
  readonly port: number;
  readonly url: string;
  /** Stops accepting, lets in-flight requests finish, closes WebSockets. */
  stop(): Promise<void>;
}

/** The largest request body accepted. */
const maxBodyBytes = 4 * 1024 * 1024;

export async function startHttpServer(deps: HttpServerDeps): Promise<RunningHttpServer> {
  const { config, orm, schema, logger } = deps;
  // Four routes do not need a framework: without Express's router, body parser and response
  // helpers, a `{ __typename }` request cost the server 1.11 ms of CPU instead of 1.60.
  const httpServer = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      logger.error('unexpected error serving an HTTP request', { url: req.url, error });
      if (!res.headersSent) sendJson(res, 500, { error: 'Internal server error' });
      else res.destroy();
    });
  });
  // Node closes an idle keep-alive connection after 5 s, which is also an executor's default
  // heartbeat interval: a client that reuses the connection just as the server closes it gets
  // ECONNRESET (the bench saw it at 500 runTask calls/s). Clients close idle connections first.
  httpServer.keepAliveTimeout = 65_000;
  httpServer.headersTimeout = 66_000;
  const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql' });

  /** Authenticates once; a refused credential is kept and raised only where one is needed. */
  const credentialsFor = async (em: EntityManager, authorization: string | undefined) => {
    try {
      return {
        ...(await authenticate(em, deps.keys, deps.services.principals, authorization)),
        authFailure: null,
      };
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      return { ...noCredentials, authFailure: error };
    }
  };

  const wsCleanup = serveGraphqlWs<Record<string, unknown>, SocketExtra>(
    wsServer,
    {
      schema,
      onSubscribe: limitedOperations(schema, {
        maxDepth: config.maxQueryDepth,
        maxTokens: config.maxQueryTokens,
      }),
      ...formattedErrors(logger),
      // A WebSocket authenticates once, when it connects: executor tokens are single-use, and
      // a refused token closes the socket with 4403 so the client stops and says why.
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const authorization =
          typeof params.authorization === 'string' ? params.authorization : undefined;
        const credentials = await credentialsFor(orm.em.fork(), authorization);
        if (credentials.authFailure) return false;
        ctx.extra.credentials = credentials;
        return true;
      },
      context: (ctx): RequestContext => ({
        em: orm.em.fork(),
        ...(ctx.extra.credentials ?? { ...noCredentials, authFailure: null }),
        requestId: randomUUID(),
        clientAddress: ctx.extra.request.socket.remoteAddress ?? 'unknown',
        services: deps.services,
        closeConnection: (code, reason) => ctx.extra.socket.close(code, reason),
      }),
    },
    logger,
  );

  const apollo = new ApolloServer<RequestContext>({
    schema,
    formatError: createFormatError(),
    validationRules: [depthLimitRule(config.maxQueryDepth)],
    parseOptions: { maxTokens: config.maxQueryTokens },
    includeStacktraceInErrorResponses: false,
    // main.ts owns the shutdown order (HTTP, then database); Apollo must not race it.
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      {
        async serverWillStart() {
          return {
            async drainServer() {
              await wsCleanup.dispose();
            },
          };
        },
      },
      errorLoggingPlugin(logger),
    ],
  });
  await apollo.start();

  const contextFor = async (req: IncomingMessage, res: ServerResponse): Promise<RequestContext> => {
    const header = req.headers['x-request-id'];
    const requestId =
      typeof header === 'string' && /^[\w.-]{1,64}$/.test(header) ? header : randomUUID();
    res.setHeader('x-request-id', requestId);
    const em = orm.em.fork();
    return {
      em,
      ...(await credentialsFor(em, req.headers.authorization)),
      requestId,
      clientAddress: req.socket.remoteAddress ?? 'unknown',
      services: deps.services,
    };
  };

  const serveGraphql = async (
    req: IncomingMessage,
    res: ServerResponse,
    search: string,
  ): Promise<void> => {
    let body: unknown;
    try {
      body = await readJsonBody(req, maxBodyBytes);
    } catch (error) {
      if (!(error instanceof HttpRequestError)) throw error;
      // The rest of a refused body is not read: the connection cannot be reused.
      res.setHeader('connection', 'close');
      sendJson(res, error.status, {
        errors: [{ message: error.message, extensions: { code: 'BAD_REQUEST' } }],
      });
      return;
    }
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method?.toUpperCase() ?? 'GET', headers, search, body },
      context: () => contextFor(req, res),
    });
    for (const [name, value] of response.headers) res.setHeader(name, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      res.setHeader('content-length', Buffer.byteLength(response.body.string));
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    if (path === '/graphql' || path === '/graphql/') {
      await serveGraphql(req, res, queryAt === -1 ? '' : url.slice(queryAt));
      return;
    }
    const isRead = req.method === 'GET' || req.method === 'HEAD';
    if (isRead && path === '/healthz') {
      sendJson(res, 200, { status: 'ok' });
    } else if (isRead && path === '/readyz') {
      try {
        await orm.em.getConnection().execute('select 1');
        sendJson(res, 200, { status: 'ready' });
      } catch {
        sendJson(res, 503, { status: 'database unreachable' });
      }
    } else if (isRead && path === '/.well-known/jwks.json') {
      sendJson(res, 200, deps.keys.jwks);
    } else {
      sendJson(res, 404, {
        error: `Nothing at ${req.method ?? 'GET'} ${path}: GraphQL is at /graphql.`,
      });
    }
  };

  await listen(httpServer, config.port, config.host);
  const { port } = httpServer.address() as AddressInfo;
  const shownHost = ['0.0.0.0', '::'].includes(config.host) ? 'localhost' : config.host;
  let stopping: Promise<void> | undefined;
  return {
    port,
    url: `http://${shownHost}:${port}/graphql`,
    stop() {
      stopping ??= apollo.stop();
      return stopping;
    },
  };
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Logs every unexpected error once, with the request id the client got in `x-request-id`. */
function errorLoggingPlugin(logger: Logger): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue, operationName }) {
          for (const error of errors) {
            if (isExpectedError(error)) continue;
            logger.error('unexpected error in GraphQL operation', {
              requestId: contextValue.requestId,
              operationName,
              path: error.path,
              error: error.originalError ?? error,
            });
          }
        },
      };
    },
  };
}
