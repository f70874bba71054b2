import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy (node:net) between one client and one server, for cutting a connection on
 * purpose: `cut()` drops every proxied connection (both sides reset) and resets every new one
 * until `restore()`, so the client sees its sockets die and its reconnects refused, as in a
 * network partition that a firewall answers with RST.
 */
export interface TcpProxy {
  /** `127.0.0.1:<port>` the client should connect to. */
  readonly host: string;
  readonly port: number;
  /** The proxied URL: `target` with its host and port replaced by the proxy's. */
  urlFor(target: string): string;
  readonly isCut: boolean;
  /** Connections accepted and forwarded so far. */
  readonly forwarded: number;
  /** Connections refused (reset) while cut. */
  readonly refused: number;
  /** Drops all open connections and refuses new ones until restore(). */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let isCut = false;
  let forwarded = 0;
  let refused = 0;

  const server: Server = createServer((client) => {
    client.on('error', () => undefined);
    if (isCut) {
      refused++;
      client.resetAndDestroy();
      return;
    }
    forwarded++;
    const upstream = connect(target.port, target.host);
    upstream.on('error', () => client.resetAndDestroy());
    client.on('error', () => upstream.resetAndDestroy());
    open.add(client);
    open.add(upstream);
    const forget = (socket: Socket) => () => open.delete(socket);
    client.once('close', forget(client));
    upstream.once('close', forget(upstream));
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    host: '127.0.0.1',
    port,
    urlFor(targetUrl) {
      const url = new URL(targetUrl);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      return url.toString();
    },
    get isCut() {
      return isCut;
    },
    get forwarded() {
      return forwarded;
    },
    get refused() {
      return refused;
    },
    cut() {
      isCut = true;
      for (const socket of [...open]) socket.resetAndDestroy();
      open.clear();
    },
    restore() {
      isCut = false;
    },
    async close() {
      isCut = true;
      for (const socket of [...open]) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
