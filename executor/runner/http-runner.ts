import { LogChunker } from './log-chunker.js';
import { maxResultBytes, OutputRecord } from './output-record.js';
import { errorMessage, type RunContext, type RunHandle, type RunOutcome } from './run-outcome.js';

type Interruption = { kind: 'timeout' } | { kind: 'cancellation'; reason: string };

class RunInterrupted extends Error {
  constructor(readonly interruption: Interruption) {
    super(interruption.kind);
  }
}

/**
 * Makes the assignment's HTTP request. The response body is the run's output (STDOUT chunks);
 * the status decides the outcome. Timeout and cancellation abort the request, body included.
 */
export function startHttpRun(context: RunContext): RunHandle {
  const { assignment } = context;
  const controller = new AbortController();
  const interrupt = (interruption: Interruption): void => {
    if (!controller.signal.aborted) controller.abort(new RunInterrupted(interruption));
  };

  const outcome = (async (): Promise<RunOutcome> => {
    const request = assignment.httpRequest;
    if (!request) {
      return {
        status: 'ABNORMAL_ENDING',
        exitCode: null,
        statusReason: 'the assignment is of kind HTTP but carries no httpRequest',
        result: null,
      };
    }
    const output = new OutputRecord(assignment.expectedOutput);
    const chunker = new LogChunker({
      onChunk: (chunk) => {
        output.add(chunk.stream, chunk.content);
        context.onChunk(chunk);
      },
    });
    const timer = setTimeout(
      () => interrupt({ kind: 'timeout' }),
      assignment.timeoutSeconds * 1000,
    );
    let status: number | null = null;
    try {
      const method = request.method.toUpperCase();
      const response = await fetch(request.url, {
        method,
        headers: request.headers.map(({ name, value }): [string, string] => [name, value]),
        body: method === 'GET' || method === 'HEAD' ? undefined : (request.body ?? undefined),
        signal: controller.signal,
      });
      status = response.status;
      if (response.body) {
        for await (const data of response.body) chunker.write('STDOUT', Buffer.from(data));
      }
    } catch (error) {
      const interruption = controller.signal.aborted
        ? (controller.signal.reason as RunInterrupted).interruption
        : undefined;
      chunker.end();
      const result = status === null ? null : resultText(status, output);
      if (interruption?.kind === 'timeout') {
        return {
          status: 'TIMEOUT_ENDING',
          exitCode: status,
          statusReason: `timed out after ${assignment.timeoutSeconds} s`,
          result,
        };
      }
      if (interruption?.kind === 'cancellation') {
        return {
          status: 'MANUAL_CANCELLATION',
          exitCode: status,
          statusReason: interruption.reason,
          result,
        };
      }
      return {
        status: 'ABNORMAL_ENDING',
        exitCode: status,
        statusReason: `${request.method} ${request.url} failed: ${errorMessage(error)}`,
        result,
      };
    } finally {
      clearTimeout(timer);
    }
    chunker.end();
    const result = resultText(status, output);
    if (!request.expectedStatusCodes.includes(status)) {
      return {
        status: 'ABNORMAL_ENDING',
        exitCode: status,
        statusReason: `HTTP status ${status}, expected ${request.expectedStatusCodes.join(' or ')}`,
        result,
      };
    }
    if (!output.containsExpectedOutput) {
      return {
        status: 'ABNORMAL_ENDING',
        exitCode: status,
        statusReason: `the response body does not contain the expected text ${JSON.stringify(assignment.expectedOutput)}`,
        result,
      };
    }
    return { status: 'FINISHED', exitCode: status, statusReason: null, result };
  })().catch((error: unknown): RunOutcome => ({
    status: 'ABNORMAL_ENDING',
    exitCode: null,
    statusReason: `the executor failed to make the request: ${errorMessage(error)}`,
    result: null,
  }));

  return { outcome, cancel: (reason) => interrupt({ kind: 'cancellation', reason }) };
}

/** `HTTP <status>`, then as much of the start of the body as fits in 64 KiB. */
function resultText(status: number, output: OutputRecord): string {
  const heading = `HTTP ${status}`;
  const body = output.start(maxResultBytes - Buffer.byteLength(heading) - 1);
  return body ? `${heading}\n${body}` : heading;
}
