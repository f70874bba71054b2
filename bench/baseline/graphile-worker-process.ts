/**
 * One graphile-worker process of the baseline benchmark, spawned by `graphile-worker.ts` with an
 * IPC channel. It reports handled jobs (and, for latency runs, handler start times) to the parent
 * and shuts down gracefully when told to, or when the parent goes away.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { run, type Runner, type Task, type WorkerEvents } from 'graphile-worker';
import {
  quietLogger,
  wallClockMs,
  WORKER_PROCESS_CONFIG_ENV,
  type JobStart,
  type ParentToWorkerMessage,
  type WorkerProcessConfig,
  type WorkerToParentMessage,
} from './graphile-worker-shared.js';

const sendToParent = requireIpcChannel();
const config = readConfig();

let unreportedHandled = 0;
let unreportedStarts: JobStart[] = [];
let flushScheduled = false;

/** Coalesces the reports of all jobs that ran in one event-loop turn into one IPC message. */
function scheduleFlush(): void {
  if (flushScheduled) return;
  flushScheduled = true;
  setImmediate(flush);
}

function flush(): void {
  flushScheduled = false;
  if (unreportedHandled === 0 && unreportedStarts.length === 0) return;
  send({ type: 'progress', handled: unreportedHandled, starts: unreportedStarts });
  unreportedHandled = 0;
  unreportedStarts = [];
}

function send(message: WorkerToParentMessage, callback?: () => void): void {
  if (!process.connected) {
    callback?.();
    return;
  }
  sendToParent(message, undefined, undefined, () => callback?.());
}

const handleBenchJob: Task = async (payload) => {
  const startedAtMs = wallClockMs();
  if (config.reportStartTimes) {
    unreportedStarts.push([sequenceOf(payload), startedAtMs]);
    scheduleFlush();
  }
  if (config.work === 'true') await runTrue();
  unreportedHandled += 1;
  scheduleFlush();
};

function sequenceOf(payload: unknown): number {
  if (typeof payload === 'object' && payload !== null && 'sequence' in payload) {
    const { sequence } = payload;
    if (typeof sequence === 'number') return sequence;
  }
  throw new Error(`Latency job without a numeric sequence: ${JSON.stringify(payload)}`);
}

function runTrue(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/true', [], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`/usr/bin/true exited with ${signal ?? `code ${code}`}`));
    });
  });
}

function requireIpcChannel(): NonNullable<typeof process.send> {
  if (!process.send) throw new Error('graphile-worker-process must be spawned with an IPC channel');
  return process.send.bind(process);
}

function readConfig(): WorkerProcessConfig {
  const raw = process.env[WORKER_PROCESS_CONFIG_ENV];
  if (!raw) throw new Error(`${WORKER_PROCESS_CONFIG_ENV} is not set`);
  return JSON.parse(raw) as WorkerProcessConfig;
}

// Our own emitter, because `run` only hands its emitter back once the pool is already starting.
// WorkerEvents merely narrows EventEmitter's method signatures, so a plain one serves.
const events = new EventEmitter() as WorkerEvents;
const listening = new Promise<void>((resolve, reject) =>
  events.once('pool:listen:success', ({ client }) => {
    // graphile-worker emits this just before it sends LISTEN on `client`. Queries on one client
    // run in order, so a query sent after the LISTEN tells us when jobs can no longer be missed.
    setImmediate(() => {
      client.query('select 1').then(() => resolve(), reject);
    });
  }),
);
// Awaited only after `run` resolves; a rejection before then must not count as unhandled.
listening.catch(() => undefined);

const starting: Promise<Runner> = run({
  connectionString: config.databaseUrl,
  concurrency: config.concurrency,
  // graphile-worker warns when its pool (default 10) is smaller than its concurrency.
  maxPoolSize: config.concurrency,
  // Exit on signals the default way; graceful shutdown is driven by the parent over IPC.
  noHandleSignals: true,
  logger: quietLogger,
  events,
  taskList: { [config.taskIdentifier]: handleBenchJob },
  // Without this, graphile-worker would load a `crontab` file from whatever the cwd is.
  parsedCronItems: [],
});

let stopping: Promise<void> | undefined;

function stop(): Promise<void> {
  stopping ??= (async () => {
    // A stop that arrives during startup must still stop the runner once it exists.
    const runner = await starting.catch(() => undefined);
    await runner?.stop();
    flush();
  })();
  return stopping;
}

function fail(error: unknown): void {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.exitCode = 1;
  send({ type: 'failed', message }, () => {
    if (process.connected) process.disconnect();
    // A half-started pool may keep the event loop alive; nothing useful is left to do.
    setTimeout(() => process.exit(1), 1000).unref();
  });
}

process.on('message', (message: unknown) => {
  if (!isStopMessage(message)) return;
  stop().then(
    () =>
      send({ type: 'stopped' }, () => {
        if (process.connected) process.disconnect();
      }),
    fail,
  );
});

// The parent died or was killed without stopping us: do not linger as an orphan.
process.once('disconnect', () => {
  stop().then(
    () => process.exit(process.exitCode ?? 0),
    () => process.exit(1),
  );
});

function isStopMessage(message: unknown): message is ParentToWorkerMessage {
  return (
    typeof message === 'object' && message !== null && 'type' in message && message.type === 'stop'
  );
}

try {
  const runner = await starting;
  runner.promise.catch(fail);
  await listening;
  send({ type: 'ready' });
} catch (error) {
  fail(error);
}
