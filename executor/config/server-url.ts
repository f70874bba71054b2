import { UsageError } from './usage-error.js';

/** The GraphQL endpoint, for HTTP mutations and for the WebSocket subscription. */
export interface ServerEndpoints {
  /** `http(s)://host:port/graphql`. */
  readonly httpUrl: string;
  /** `ws(s)://host:port/graphql`. */
  readonly webSocketUrl: string;
}

/** Accepts `http(s)://host:port[/graphql]` (a bare origin gets `/graphql`). */
export function parseServerUrl(text: string, source = '--server'): ServerEndpoints {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(
      `${source} must be a URL such as http://scheduler:4000/graphql, not "${text}"`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${source} must be an http:// or https:// URL, not "${text}"`);
  }
  if (url.pathname === '' || url.pathname === '/') url.pathname = '/graphql';
  const httpUrl = url.toString();
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return { httpUrl, webSocketUrl: url.toString() };
}
