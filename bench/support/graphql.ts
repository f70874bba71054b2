import { Agent, request } from 'node:http';

/**
 * Keep-alive connections shared by the bench's requests, at most 64 at once: an open-loop
 * client at 1,000 calls/s must not turn a slow server into thousands of new connections.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** A plain GraphQL-over-HTTP client for the bench (no codegen: the bench sends few operations). */
export class BenchGraphql {
  constructor(
    readonly url: string,
    private readonly token?: string,
  ) {}

  withToken(token: string): BenchGraphql {
    return new BenchGraphql(this.url, token);
  }

  request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const body = JSON.stringify({ query, variables });
    return new Promise<T>((resolve, reject) => {
      const call = request(
        this.url,
        {
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          },
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => {
            try {
              const parsed = JSON.parse(text) as { data?: T; errors?: { message: string }[] };
              if (parsed.errors?.length || !parsed.data) {
                reject(
                  new Error(`GraphQL error: ${parsed.errors?.map((e) => e.message).join('; ')}`),
                );
              } else {
                resolve(parsed.data);
              }
            } catch {
              reject(new Error(`HTTP ${response.statusCode}: ${text.slice(0, 200)}`));
            }
          });
          response.on('error', reject);
        },
      );
      call.on('error', reject);
      call.end(body);
    });
  }
}
