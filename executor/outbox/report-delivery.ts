import {
  SubmitExecutorReportsDocument,
  type AppendTaskLogsInput,
  type ReportTaskFinishedInput,
  type ReportTaskStartedInput,
  type RunKeyInput,
} from '../generated/graphql.js';
import type { GraphqlHttpClient } from '../transport/graphql-http-client.js';
import type { OutboxRecord } from './report.js';

/** Records per call: the server takes at most 1000 reports of a kind per call. */
export const maxRecordsPerCall = 1000;
/** The server takes at most this many chunks per run entry (schema). */
export const maxChunksPerEntry = 500;
/**
 * Report content per call, in bytes of JSON: the server parses request bodies up to 1 MB, and
 * JSON escaping can make content larger than its UTF-8 size.
 */
export const maxBytesPerCall = 512 * 1024;

/** `submitExecutorReports` input, every list present. */
export interface BatchInput {
  acknowledged: RunKeyInput[];
  started: ReportTaskStartedInput[];
  logs: AppendTaskLogsInput[];
  finished: ReportTaskFinishedInput[];
}

/** A report the server refused for good: it is dropped (and logged). */
export interface RefusedDelivery {
  readonly report: string;
  readonly instanceId: string;
  readonly attempt: number;
  readonly code: string;
  readonly reason: string;
}

const knownReportBytes = new WeakMap<OutboxRecord, number>();

/**
 * A record's report as JSON, in bytes: measured once per record (a sender looks at the same
 * records again each time more are appended while it waits).
 */
function reportBytes(record: OutboxRecord): number {
  let bytes = knownReportBytes.get(record);
  if (bytes === undefined) {
    bytes = Buffer.byteLength(JSON.stringify(record.report));
    knownReportBytes.set(record, bytes);
  }
  return bytes;
}

/**
 * The records one server call carries: the oldest ones, up to `limit` records and about
 * 512 KiB (the first record always goes). The server applies a call's reports kind by kind
 * (acknowledged, started, logs, finished), which is the order of one run's reports, so any
 * prefix of the outbox can go in one call.
 */
export function nextBatch(
  records: readonly OutboxRecord[],
  limit = maxRecordsPerCall,
): OutboxRecord[] {
  const batch: OutboxRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    if (batch.length >= Math.min(limit, maxRecordsPerCall)) break;
    const recordBytes = reportBytes(record);
    if (batch.length > 0 && bytes + recordBytes > maxBytesPerCall) break;
    batch.push(record);
    bytes += recordBytes;
  }
  return batch;
}

/** The `submitExecutorReports` input of a batch; consecutive chunks of a run share an entry. */
export function batchInput(batch: readonly OutboxRecord[]): BatchInput {
  const input: BatchInput = { acknowledged: [], started: [], logs: [], finished: [] };
  let entry:
    { instanceId: string; attempt: number; chunks: AppendTaskLogsInput['chunks'] } | undefined;
  for (const { report } of batch) {
    if (report.type !== 'logChunk') entry = undefined;
    switch (report.type) {
      case 'acknowledge':
        input.acknowledged.push({ instanceId: report.run.instanceId, attempt: report.run.attempt });
        break;
      case 'started':
        input.started.push(report.input);
        break;
      case 'finished':
        input.finished.push(report.input);
        break;
      case 'logChunk': {
        const { instanceId, attempt } = report.run;
        if (
          !entry ||
          entry.instanceId !== instanceId ||
          entry.attempt !== attempt ||
          entry.chunks.length >= maxChunksPerEntry
        ) {
          entry = { instanceId, attempt, chunks: [report.chunk] };
          input.logs.push(entry);
        } else {
          entry.chunks.push(report.chunk);
        }
        break;
      }
    }
  }
  return input;
}

/** Sends one batch in one call; throws GraphqlRequestError when the call as a whole fails. */
export async function deliverBatch(
  client: GraphqlHttpClient,
  batch: readonly OutboxRecord[],
): Promise<RefusedDelivery[]> {
  if (batch.length === 0) return [];
  const { submitExecutorReports } = await client.request(SubmitExecutorReportsDocument, {
    input: batchInput(batch),
  });
  return submitExecutorReports.refused.map((refused) => ({
    report: refused.kind,
    instanceId: refused.instanceId,
    attempt: refused.attempt,
    code: refused.code,
    reason: refused.message,
  }));
}
