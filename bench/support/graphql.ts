import { connect, type Socket } from 'node:net';

/** Keep-alive connections per server, at most: an open-loop client at 1,000 calls/s must not
 * turn a slow server into thousands of new connections. */
const maxConnections = 64;

/**
 * A plain GraphQL-over-HTTP client for the bench (no codegen: the bench sends few operations).
 *
 * HTTP/1.1 written and read by hand on keep-alive sockets, one request at a time per socket:
 * the bench shares the machine with what it measures, and node:http's client took ~1 ms of CPU
 * per `runTask` call (a fifth of a core at 300 calls a second, profiled) where this takes a
 * fraction of that. It reads what graphcron's server sends: a status line, headers and a
 * `content-length` body.
 */
export class BenchGraphql {
  private readonly pool: ConnectionPool;

  constructor(
    readonly url: string,
    private readonly token?: string,
    pool?: ConnectionPool,
  ) {
    this.pool = pool ?? new ConnectionPool(new URL(url));
  }

  withToken(token: string): BenchGraphql {
    return new BenchGraphql(this.url, token, this.pool);
  }

  async request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const { status, body } = await this.pool.post(JSON.stringify({ query, variables }), this.token);
    let parsed: { data?: T; errors?: { message: string }[] };
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      throw new Error(`HTTP ${status}: ${body.slice(0, 200)}`);
    }
    if (parsed.errors?.length || !parsed.data) {
      throw new Error(`GraphQL error: ${parsed.errors?.map((e) => e.message).join('; ')}`);
    }
    return parsed.data;
  }
}

interface Exchange {
  head: Buffer;
  body: Buffer;
  resolve: (response: { status: number; body: string }) => void;
  reject: (error: Error) => void;
}

/** Sockets to one server: an idle one takes the next request, or a new one up to the limit. */
class ConnectionPool {
  private readonly idle: Connection[] = [];
  private readonly waiting: Exchange[] = [];
  private open = 0;

  constructor(private readonly url: URL) {}

  post(json: string, token: string | undefined): Promise<{ status: number; body: string }> {
    const body = Buffer.from(json);
    const head = Buffer.from(
      `POST ${this.url.pathname}${this.url.search} HTTP/1.1\r\n` +
        `host: ${this.url.host}\r\n` +
        'content-type: application/json\r\n' +
        `content-length: ${body.length}\r\n` +
        (token ? `authorization: Bearer ${token}\r\n` : '') +
        '\r\n',
    );
    return new Promise((resolve, reject) => {
      const exchange: Exchange = { head, body, resolve, reject };
      const connection = this.idle.pop();
      if (connection) connection.send(exchange);
      else if (this.open < maxConnections) this.connect().send(exchange);
      else this.waiting.push(exchange);
    });
  }

  private connect(): Connection {
    this.open += 1;
    return new Connection(
      connect(Number(this.url.port || 80), this.url.hostname),
      (connection) => {
        const next = this.waiting.shift();
        if (next) connection.send(next);
        else this.idle.push(connection);
      },
      (connection) => {
        this.open -= 1;
        const index = this.idle.indexOf(connection);
        if (index >= 0) this.idle.splice(index, 1);
        // A request that was waiting for a socket gets a new one.
        const next = this.waiting.shift();
        if (next) this.connect().send(next);
      },
    );
  }
}

/** One keep-alive socket, one request at a time. */
class Connection {
  private current: Exchange | null = null;
  private received: Buffer = Buffer.alloc(0);
  private isClosed = false;

  constructor(
    private readonly socket: Socket,
    private readonly onFree: (connection: Connection) => void,
    private readonly onClosed: (connection: Connection) => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('error', (error) => this.close(error));
    socket.on('close', () => this.close(new Error('the server closed the connection')));
  }

  send(exchange: Exchange): void {
    if (this.isClosed) {
      exchange.reject(new Error('the connection is closed'));
      return;
    }
    this.current = exchange;
    this.socket.ref();
    this.socket.write(Buffer.concat([exchange.head, exchange.body]));
  }

  private read(chunk: Buffer): void {
    this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
    const headEnd = this.received.indexOf('\r\n\r\n');
    if (headEnd < 0 || !this.current) return;
    const head = this.received.subarray(0, headEnd).toString('latin1');
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!length) {
      this.fail(new Error(`HTTP ${status} without content-length: ${head.slice(0, 200)}`));
      return;
    }
    const bodyEnd = headEnd + 4 + Number(length[1]);
    if (this.received.length < bodyEnd) return;
    const body = this.received.subarray(headEnd + 4, bodyEnd).toString('utf8');
    this.received = this.received.subarray(bodyEnd);
    const exchange = this.current;
    this.current = null;
    const closes = /\r\nconnection: *close/i.test(head);
    exchange.resolve({ status, body });
    if (closes) {
      this.socket.end();
      return;
    }
    // An idle socket does not keep the bench's process alive.
    this.socket.unref();
    this.onFree(this);
  }

  private fail(error: Error): void {
    this.socket.destroy();
    this.close(error);
  }

  private close(error: Error): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.current?.reject(error);
    this.current = null;
    this.onClosed(this);
  }
}
