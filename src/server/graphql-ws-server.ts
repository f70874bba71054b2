import {
  CloseCode,
  handleProtocols,
  makeServer,
  MessageType,
  type ConnectionInitMessage,
  type Disposable,
  type ServerOptions,
} from 'graphql-ws';
import type { Extra } from 'graphql-ws/use/ws';
import type { WebSocketServer } from 'ws';
import type { Logger } from '../shared/logger.js';

/** Messages only a server sends; graphql-ws itself answers them with a 4500 "internal" close. */
const serverOnlyTypes: ReadonlySet<unknown> = new Set([
  MessageType.ConnectionAck,
  MessageType.Next,
  MessageType.Error,
]);

/** A server-only type's name as a JSON string, or any \u escape (which could spell one). */
const mayNameServerOnlyType = new RegExp(
  `"(?:${[...serverOnlyTypes].map((type) => String(type)).join('|')})"|\\\\u`,
);

/** How often an idle socket is pinged; one that does not answer within as long is dropped. */
const keepAliveMs = 12_000;

const internalError = 'Internal server error';

/** Unsent bytes on a socket past which sending waits for the client to read. */
const maxUnsentBytes = 1024 * 1024;

/**
 * graphql-ws on a `ws` server: `useServer` from graphql-ws/use/ws, changed where it treats a
 * client's mistake as the server's or says too much. A client sending a message only a server
 * sends is closed with 4400 (a bad request), not 4500. Close reasons never carry an internal
 * error's message, and such errors go to the log, not to console.error.
 */
export function serveGraphqlWs<
  P extends ConnectionInitMessage['payload'],
  E extends Record<PropertyKey, unknown>,
>(
  wsServer: WebSocketServer,
  options: ServerOptions<P, Extra & Partial<E>>,
  logger: Logger,
): Disposable {
  const server = makeServer(options);
  wsServer.options.handleProtocols = handleProtocols;
  wsServer.once('error', (error) => {
    logger.error('WebSocket server failed', { error });
    for (const client of wsServer.clients)
      client.close(CloseCode.InternalServerError, internalError);
  });
  wsServer.on('connection', (socket, request) => {
    // ws has already closed the socket with the right code (1007 for invalid UTF-8, 1009 for an
    // oversized message...): a client's fault, worth a warning at most.
    socket.once('error', (error) => {
      logger.warn('WebSocket connection error', { error: error.message });
      socket.close(CloseCode.InternalServerError, internalError);
    });
    let pongWait: NodeJS.Timeout | null = null;
    const pingInterval = setInterval(() => {
      if (socket.readyState !== socket.OPEN) return;
      pongWait = setTimeout(() => socket.terminate(), keepAliveMs);
      socket.once('pong', () => {
        if (pongWait) clearTimeout(pongWait);
        pongWait = null;
      });
      socket.ping();
    }, keepAliveMs);
    // The rest of the extra (credentials) is set by onConnect.
    const extra = { socket, request } as Extra & Partial<E>;
    // Messages sent in one turn of the event loop (a burst of assignments to one executor) leave
    // in one write: a write to a socket is a system call, and one per message was the server's
    // largest cost in the throughput bench. The upgraded request's socket is the WebSocket's.
    let isCorked = false;
    const corkUntilNextTurn = (): void => {
      if (isCorked || request.socket.destroyed) return;
      isCorked = true;
      request.socket.cork();
      setImmediate(() => {
        isCorked = false;
        request.socket.uncork();
      });
    };
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            corkUntilNextTurn();
            // graphql-ws sends a subscription's next message once this resolves: waiting for
            // the write would hold every burst to one message per turn. Only a client that
            // does not read (much is unsent) is waited for.
            const isBackedUp = socket.bufferedAmount > maxUnsentBytes;
            socket.send(data, (error) => (error ? reject(error) : resolve()));
            if (!isBackedUp) resolve();
          }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on('message', async (data) => {
            const text = String(data);
            const type = messageType(text);
            if (serverOnlyTypes.has(type)) {
              socket.close(CloseCode.BadRequest, `A client may not send "${String(type)}".`);
              return;
            }
            try {
              await handle(text);
            } catch (error) {
              logger.error('unexpected error handling a WebSocket message', { error });
              socket.close(CloseCode.InternalServerError, internalError);
            }
          }),
      },
      extra,
    );
    socket.once('close', (code, reason) => {
      if (pongWait) clearTimeout(pongWait);
      clearInterval(pingInterval);
      closed(code, String(reason)).catch((error: unknown) =>
        logger.error('unexpected error closing a WebSocket', { error }),
      );
    });
  });
  return {
    async dispose() {
      for (const client of wsServer.clients) client.close(1001, 'Going away');
      wsServer.removeAllListeners();
      await new Promise<void>((resolve, reject) =>
        wsServer.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}

/**
 * The `type` of a message, if it is a JSON object; graphql-ws refuses anything else itself.
 * Parsed only when a server-only type's name may appear in it (`mayNameServerOnlyType`):
 * graphql-ws parses every message again, and an executor's report batches are the largest.
 */
function messageType(text: string): unknown {
  if (!mayNameServerOnlyType.test(text)) return undefined;
  try {
    const message: unknown = JSON.parse(text);
    return typeof message === 'object' && message !== null && 'type' in message
      ? message.type
      : undefined;
  } catch {
    return undefined;
  }
}
