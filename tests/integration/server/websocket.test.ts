import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';

interface Message {
  id?: string;
  type: string;
  payload?: unknown;
}

/** A raw graphql-ws connection, to send what a well-behaved client never would. */
class RawSocket {
  readonly messages: Message[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: (() => void)[] = [];

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data: WebSocket.RawData) => {
      this.messages.push(JSON.parse(String(data)) as Message);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) =>
      socket.on('close', (code: number, reason: Buffer) => {
        resolve({ code, reason: reason.toString() });
        for (const wake of this.waiters.splice(0)) wake();
      }),
    );
  }

  /** Opens a socket and completes the connection_init handshake. */
  static async connect(url: string, token: string | null): Promise<RawSocket> {
    const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const raw = new RawSocket(socket);
    raw.send({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
    await raw.next((m) => m.type === 'connection_ack');
    return raw;
  }

  send(message: unknown): void {
    this.socket.send(JSON.stringify(message));
  }

  sendText(text: string): void {
    this.socket.send(text);
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** The first message (received so far or later) that `match` accepts. */
  async next(match: (m: Message) => boolean, timeoutMs = 5000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(match);
      if (found) return found;
      if (!this.isOpen || Date.now() > deadline)
        throw new Error(`no such message; got ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  close(): void {
    this.socket.close(1000);
  }
}

describe('WebSocket operations', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer({
      GRAPHCRON_MAX_QUERY_DEPTH: '5',
      GRAPHCRON_MAX_QUERY_TOKENS: '400',
    });
    token = (await server.asAdmin()).token!;
  });
  afterAll(() => server?.stop());

  const connect = () => RawSocket.connect(server.anonymous.url, token);
  const errorOf = async (socket: RawSocket, id: string) => {
    const message = await socket.next((m) => m.id === id && m.type === 'error');
    return (message.payload as { message: string; extensions?: { code?: string } }[])[0]!;
  };

  it('answers a syntax error or an empty document with an error message, and stays open', async () => {
    const socket = await connect();
    socket.send({ id: 'a', type: 'subscribe', payload: { query: 'subscription {' } });
    expect(await errorOf(socket, 'a')).toMatchObject({
      message: expect.stringMatching(/Syntax Error/),
      extensions: { code: 'GRAPHQL_PARSE_FAILED' },
    });
    socket.send({ id: 'b', type: 'subscribe', payload: { query: '' } });
    expect((await errorOf(socket, 'b')).extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    socket.send({ id: 'c', type: 'subscribe', payload: { query: '{ __typename }' } });
    const answer = await socket.next((m) => m.id === 'c' && m.type === 'next');
    expect(answer.payload).toEqual({ data: { __typename: 'Query' } });
    expect(socket.isOpen).toBe(true);
    socket.close();
  });

  it('refuses a query nested deeper than the limit, as HTTP does', async () => {
    const socket = await connect();
    const deep = '{ __schema { types { fields { type { ofType { ofType { name } } } } } } }';
    socket.send({ id: 'deep', type: 'subscribe', payload: { query: deep } });
    expect(await errorOf(socket, 'deep')).toMatchObject({
      message: expect.stringMatching(/nested 7 levels deep; the limit is 5/),
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    expect(socket.messages.some((m) => m.id === 'deep' && m.type === 'next')).toBe(false);
    socket.close();
  });

  it('refuses a document over the token limit, as HTTP does', async () => {
    const socket = await connect();
    const huge = `{ ${Array.from({ length: 300 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    socket.send({ id: 'huge', type: 'subscribe', payload: { query: huge } });
    expect(await errorOf(socket, 'huge')).toMatchObject({
      message: expect.stringMatching(/tokens/),
      extensions: { code: 'GRAPHQL_PARSE_FAILED' },
    });
    socket.close();
  });

  it('gives errors the codes HTTP gives them', async () => {
    const socket = await connect();
    socket.send({
      id: 'x',
      type: 'subscribe',
      payload: { query: 'subscription { executorAssignments { __typename } }' },
    });
    const answer = await socket.next((m) => m.id === 'x' && m.type === 'next');
    const [error] = (answer.payload as { errors: { extensions?: { code?: string } }[] }).errors;
    expect(error?.extensions?.code).toBe('UNAUTHENTICATED');
    socket.close();
  });

  it.each(['connection_ack', 'next', 'error'])(
    'closes with 4400 when a client sends "%s", a message only a server sends',
    async (type) => {
      // graphql-ws's own useServer logs this as an internal error; a client's mistake is not.
      const consoleError = vi.spyOn(console, 'error');
      const socket = await connect();
      const payload = type === 'error' ? [{ message: 'x' }] : type === 'next' ? {} : undefined;
      socket.send({ id: '1', type, payload });
      expect(await socket.closed).toEqual({
        code: 4400,
        reason: `A client may not send "${type}".`,
      });
      expect(consoleError).not.toHaveBeenCalled();
      consoleError.mockRestore();
    },
  );

  it('sees a server-only type spelled with JSON escapes', async () => {
    const socket = await connect();
    socket.sendText('{"id":"1","type":"n\\u0065xt","payload":{}}');
    expect(await socket.closed).toEqual({ code: 4400, reason: 'A client may not send "next".' });
  });
});
