import type { IncomingMessage } from 'node:http';

/** A request the server refuses before GraphQL sees it: the HTTP status and why. */
export class HttpRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The request's JSON body, parsed; undefined when it has none or is not `application/json`
 * (GraphQL over GET, or a POST Apollo refuses with its own explanation). Refuses a body larger
 * than `maxBytes` (413), one in another charset or compressed (415), and malformed JSON (400).
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const contentType = req.headers['content-type'];
  if (!contentType) return undefined;
  const [mediaType = '', ...parameters] = contentType.split(';');
  if (mediaType.trim().toLowerCase() !== 'application/json') return undefined;
  const charset = parameters
    .map((parameter) => parameter.trim().toLowerCase())
    .find((parameter) => parameter.startsWith('charset='))
    ?.slice('charset='.length)
    .replace(/"/g, '');
  if (charset && charset !== 'utf-8' && charset !== 'utf8') {
    throw new HttpRequestError(415, `Send the body in UTF-8, not ${charset}.`);
  }
  const encoding = req.headers['content-encoding']?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') {
    throw new HttpRequestError(415, `Send the body uncompressed (Content-Encoding: ${encoding}).`);
  }
  const tooLarge = `The body is larger than ${maxBytes} bytes.`;
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) {
    throw new HttpRequestError(413, tooLarge);
  }
  const text = await readText(req, maxBytes, tooLarge);
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpRequestError(
      400,
      `The body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/** The body as UTF-8 text. Events, not `for await`: a stream's async iterator costs more. */
function readText(req: IncomingMessage, maxBytes: number, tooLarge: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const onData = (chunk: Buffer): void => {
      length += chunk.length;
      if (length <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      req.pause();
      reject(new HttpRequestError(413, tooLarge));
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, length).toString('utf8')));
    req.once('error', reject);
  });
}
