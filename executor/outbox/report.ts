import type {
  LogChunkInput,
  ReportTaskFinishedInput,
  ReportTaskStartedInput,
} from '../generated/graphql.js';

/** Which run a report is about: reports of one attempt are fenced by it on the server. */
export interface RunKey {
  readonly instanceId: string;
  readonly attempt: number;
}

/** One thing to tell the server, kept in the outbox until it has been delivered. */
export type Report =
  | { readonly type: 'acknowledge'; readonly run: RunKey }
  | { readonly type: 'started'; readonly input: ReportTaskStartedInput }
  | { readonly type: 'logChunk'; readonly run: RunKey; readonly chunk: LogChunkInput }
  | { readonly type: 'finished'; readonly input: ReportTaskFinishedInput };

/** A report with its place in the outbox; ids grow strictly in append order. */
export interface OutboxRecord {
  readonly id: number;
  readonly report: Report;
}

export function runKeyOf(report: Report): RunKey {
  switch (report.type) {
    case 'acknowledge':
    case 'logChunk':
      return report.run;
    case 'started':
    case 'finished':
      return { instanceId: report.input.instanceId, attempt: report.input.attempt };
  }
}

/** A string key for maps and sets of runs. */
export function runKeyString(run: RunKey): string {
  return `${run.instanceId}#${run.attempt}`;
}
