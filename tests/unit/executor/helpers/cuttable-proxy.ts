import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/**
 * How a cut network answers: `refuse` resets every connection (a firewall that rejects),
 * `blackhole` accepts and never answers (one that drops packets: connection attempts hang).
 */
export type CutMode = 'refuse' | 'blackhole';

/** A TCP proxy in front of a local server, to cut the network between it and a client. */
export interface CuttableProxy {
  /** `url` with its port replaced by the proxy's. */
  urlFor(url: string): string;
  /** Connections held unanswered since the last `cut('blackhole')`. */
  readonly heldCount: number;
  /** Resets every open connection; new ones get `mode` until restore(). */
  cut(mode: CutMode): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startCuttableProxy(targetPort: number): Promise<CuttableProxy> {
  const open = new Set<Socket>();
  let mode: CutMode | undefined;
  let heldCount = 0;
  const server = createServer((client) => {
    client.on('error', () => undefined);
    open.add(client);
    client.once('close', () => open.delete(client));
    if (mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    if (mode === 'blackhole') {
      heldCount += 1;
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    open.add(upstream);
    upstream.on('error', () => client.resetAndDestroy());
    client.on('error', () => upstream.resetAndDestroy());
    upstream.once('close', () => {
      open.delete(upstream);
      client.destroy();
    });
    client.once('close', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    urlFor(url) {
      const proxied = new URL(url);
      proxied.port = String(port);
      return proxied.toString();
    },
    get heldCount() {
      return heldCount;
    },
    cut(cutMode) {
      mode = cutMode;
      heldCount = 0;
      for (const socket of [...open]) socket.resetAndDestroy();
    },
    restore() {
      mode = undefined;
    },
    async close() {
      for (const socket of [...open]) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
