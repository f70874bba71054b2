import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import express from 'express';
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

export async function startHttpServer(deps: HttpServerDeps): Promise<RunningHttpServer> {
  const { config, orm, schema, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  // An ETag is a hash of every response body, and GraphQL answers POSTs, which no cache keeps.
  app.disable('etag');
  const httpServer = createServer(app);
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

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    try {
      await orm.em.getConnection().execute('select 1');
      res.json({ status: 'ready' });
    } catch {
      res.status(503).json({ status: 'database unreachable' });
    }
  });
  app.get('/.well-known/jwks.json', (_req, res) => {
    res.json(deps.keys.jwks);
  });
  app.use(
    '/graphql',
    express.json({ limit: '4mb' }),
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const header = req.header('x-request-id');
        const requestId = header && /^[\w.-]{1,64}$/.test(header) ? header : randomUUID();
        res.setHeader('x-request-id', requestId);
        const em = orm.em.fork();
        return {
          em,
          ...(await credentialsFor(em, req.header('authorization'))),
          requestId,
          clientAddress: req.socket.remoteAddress ?? 'unknown',
          services: deps.services,
        };
      },
    }),
  );

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
