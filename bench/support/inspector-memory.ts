import WebSocket from 'ws';

/** What a process keeps alive once garbage is collected, in bytes. */
export interface LiveMemory {
  /** V8 heap in use. */
  heapUsed: number;
  /** Memory of C++ objects bound to JavaScript ones (buffers, sockets' native state). */
  external: number;
}

/**
 * Reads a process's live memory through its inspector (`node --inspect=127.0.0.1:0`): a full
 * garbage collection first, then `process.memoryUsage()`. The resident set size alone counts
 * garbage not yet collected and the heap's reserve, which grow with traffic, not with what is
 * held; this is what the connections themselves cost. Bench-only: the product has no such hook.
 */
export async function liveMemory(inspectorUrl: string): Promise<LiveMemory> {
  const socket = new WebSocket(inspectorUrl);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  let nextId = 1;
  const call = (method: string, params: Record<string, unknown> = {}): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const onMessage = (data: WebSocket.RawData): void => {
        const message = JSON.parse(String(data)) as {
          id?: number;
          result?: unknown;
          error?: unknown;
        };
        if (message.id !== id) return;
        socket.off('message', onMessage);
        if (message.error) reject(new Error(JSON.stringify(message.error)));
        else resolve(message.result);
      };
      socket.on('message', onMessage);
      socket.send(JSON.stringify({ id, method, params }));
    });
  try {
    // Twice: the first collection can leave objects whose finalizers free more.
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    const result = (await call('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
      returnByValue: true,
    })) as { result: { value: string } };
    const usage = JSON.parse(result.result.value) as { heapUsed: number; external: number };
    return { heapUsed: usage.heapUsed, external: usage.external };
  } finally {
    socket.close();
  }
}

/** The inspector's WebSocket URL, from what `node --inspect` printed. */
export function inspectorUrlIn(output: string): string {
  const match = /Debugger listening on (ws:\/\/\S+)/.exec(output);
  if (!match?.[1]) throw new Error('the server printed no inspector URL (started with --inspect?)');
  return match[1];
}
