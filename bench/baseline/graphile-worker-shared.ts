import { Logger } from 'graphile-worker';

/** What the parent tells each worker process; it travels in an environment variable. */
export interface WorkerProcessConfig {
  databaseUrl: string;
  concurrency: number;
  taskIdentifier: string;
  work: 'noop' | 'true';
  /** Latency runs need every handler's start time; throughput runs only need counts. */
  reportStartTimes: boolean;
}

// An environment variable rather than argv keeps the database password out of `ps`.
export const WORKER_PROCESS_CONFIG_ENV = 'GRAPHCRON_GRAPHILE_BASELINE_WORKER_CONFIG';

export interface BenchJobPayload {
  sequence: number;
}

/** A handler start: the job's sequence number and the wall-clock time in milliseconds. */
export type JobStart = [sequence: number, startedAtMs: number];

export type WorkerToParentMessage =
  | { type: 'ready' }
  | { type: 'progress'; handled: number; starts: JobStart[] }
  | { type: 'failed'; message: string }
  | { type: 'stopped' };

export type ParentToWorkerMessage = { type: 'stop' };

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * graphile-worker logs every completed job at info level; at thousands of jobs per second that
 * output would cost more than the jobs themselves, so only problems get through.
 */
export const quietLogger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') {
    process.stderr.write(`[graphile-worker ${process.pid}] ${level}: ${message}\n`);
  }
});
