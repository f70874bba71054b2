import {
  AcknowledgeAssignmentDocument,
  AppendTaskLogsDocument,
  ReportTaskFinishedDocument,
  ReportTaskStartedDocument,
} from '../generated/graphql.js';
import type { GraphqlHttpClient } from '../transport/graphql-http-client.js';
import type { OutboxRecord } from './report.js';

/** The server takes at most this many chunks per appendTaskLogs call (schema). */
export const maxChunksPerCall = 500;
/**
 * Chunk content per call, in bytes of JSON: the server parses request bodies up to 1 MB, and
 * JSON escaping can make content larger than its UTF-8 size.
 */
export const maxLogBytesPerCall = 512 * 1024;

/**
 * The records one server call carries, from the head of the outbox: the first record alone, or a
 * run of consecutive log chunks of the same attempt, so that order is never changed.
 */
export function nextBatch(records: readonly OutboxRecord[]): OutboxRecord[] {
  const [first] = records;
  if (!first) return [];
  if (first.report.type !== 'logChunk') return [first];
  const { instanceId, attempt } = first.report.run;
  const batch: OutboxRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    const { report } = record;
    if (
      report.type !== 'logChunk' ||
      report.run.instanceId !== instanceId ||
      report.run.attempt !== attempt ||
      batch.length === maxChunksPerCall
    ) {
      break;
    }
    const recordBytes = Buffer.byteLength(JSON.stringify(report.chunk));
    if (batch.length > 0 && bytes + recordBytes > maxLogBytesPerCall) break;
    batch.push(record);
    bytes += recordBytes;
  }
  return batch;
}

/** Sends one batch (from nextBatch) as its mutation; throws GraphqlRequestError on failure. */
export async function deliverBatch(
  client: GraphqlHttpClient,
  batch: readonly OutboxRecord[],
): Promise<void> {
  const [first] = batch;
  if (!first) return;
  const { report } = first;
  switch (report.type) {
    case 'acknowledge':
      await client.request(AcknowledgeAssignmentDocument, {
        instanceId: report.run.instanceId,
        attempt: report.run.attempt,
      });
      return;
    case 'started':
      await client.request(ReportTaskStartedDocument, { input: report.input });
      return;
    case 'finished':
      await client.request(ReportTaskFinishedDocument, { input: report.input });
      return;
    case 'logChunk': {
      const chunks = batch.map(({ report: chunkReport }) =>
        chunkReport.type === 'logChunk' ? chunkReport.chunk : undefined,
      );
      await client.request(AppendTaskLogsDocument, {
        input: {
          instanceId: report.run.instanceId,
          attempt: report.run.attempt,
          chunks: chunks.filter((chunk) => chunk !== undefined),
        },
      });
      return;
    }
  }
}
