import path from 'node:path';
import { createTokenSigner } from './auth/executor-token.js';
import { loadKeyPair } from './auth/key-pair.js';
import type { RunConfig } from './config/run-config.js';
import type { Logger } from './logger.js';
import { Outbox } from './outbox/outbox.js';
import { OutboxSender } from './outbox/outbox-sender.js';
import { deliverBatch } from './outbox/report-delivery.js';
import { runKeyOf } from './outbox/report.js';
import { AssignmentSubscription } from './transport/assignment-subscription.js';
import {
  createGraphqlHttpClient,
  type GraphqlHttpClient,
} from './transport/graphql-http-client.js';
import { Heartbeat } from './work/heartbeat.js';
import { RunJournal } from './work/run-journal.js';
import { RunReconciliation } from './work/run-reconciliation.js';
import { WorkManager } from './work/work-manager.js';

/** How long a shutdown waits for the server to take the remaining reports. */
const shutdownFlushMs = 10_000;
/** After a forced stop, how long to wait for killed runs to be reported. */
const forcedStopFlushMs = 2_000;

export interface ExecutorProgramHooks {
  /** A line for people (and tests) on stdout. */
  announce: (line: string) => void;
  /** The server refuses this executor's key for good; the program should exit 78. */
  onRefused: () => void;
}

export interface RunningExecutor {
  /** Stops taking work, lets running work finish, flushes reports (bounded), stops. */
  shutdown(): Promise<void>;
  /** Kills running work, reports it, flushes briefly, stops. Also ends a pending shutdown. */
  forceStop(): Promise<void>;
}

/** The composition root of `run`: keys → outbox → work → sender, heartbeat, subscription. */
export async function startExecutor(
  config: RunConfig,
  logger: Logger,
  hooks: ExecutorProgramHooks,
): Promise<RunningExecutor> {
  const { privateKey } = await loadKeyPair(config.stateDir);
  const signToken = createTokenSigner(config.executorId, privateKey);
  const client = createGraphqlHttpClient({ url: config.server.httpUrl, signToken });
  const outbox = await Outbox.open(path.join(config.stateDir, 'outbox'));
  const journal = await RunJournal.open(path.join(config.stateDir, 'runs'));
  if (outbox.size > 0) logger.info('replaying undelivered reports', { records: outbox.size });

  const work = new WorkManager({
    outbox,
    journal,
    capacity: config.capacity,
    killGraceMs: config.killGraceMs,
    isDryRun: config.isDryRun,
    defaultWorkingDirectory: config.stateDir,
    logger,
    knownRuns: outbox.peek(Number.MAX_SAFE_INTEGER).map(({ report }) => runKeyOf(report)),
  });
  // Reports go over the subscription's socket while it is connected (authenticated once, no
  // token or HTTP request per call), else over HTTP.
  const reportClient: GraphqlHttpClient = {
    request: (document, variables) =>
      subscription.request(document, variables) ?? client.request(document, variables),
  };
  const sender = new OutboxSender({
    outbox,
    deliver: (batch) => deliverBatch(reportClient, batch),
    logger,
  });
  const heartbeat = new Heartbeat({
    client,
    intervalMs: config.heartbeatIntervalMs,
    activeInstanceIds: () => work.activeInstanceIds(),
    onAbandoned: (instanceIds) => void work.abandon(instanceIds),
    // After an outage the subscription and the sender may be deep in their backoff; the
    // subscription is the only way work arrives, so without this the executor would count as
    // online for up to a whole backoff wait while it cannot receive any.
    onReachable: () => {
      reconciliation.retryNow();
      subscription.retryNow();
      sender.nudge();
    },
    logger,
  });
  const subscription = new AssignmentSubscription({
    url: config.server.webSocketUrl,
    signToken,
    logger,
    onMessage: (message) => {
      if (message.__typename === 'ExecutorAssignment') void work.accept(message);
      else void work.cancel(message, message.reason || 'cancelled by a user');
    },
    onConnected: () => {
      hooks.announce(
        `executor ${config.name} (id ${config.executorId}) connected to ${config.server.httpUrl}`,
      );
      // The server is reachable again: do not wait out a long backoff.
      sender.nudge();
    },
    onRefused: hooks.onRefused,
  });

  // Over HTTP: the subscription's socket is what it has to wait for.
  const reconciliation = new RunReconciliation({
    client,
    knownRuns: () => [...work.activeRuns(), ...outbox.runsWithUndeliveredFinals()],
    logger,
  });

  await work.recover();
  sender.start();
  heartbeat.start();
  // Before the subscription: no assignment can then arrive, and be acknowledged, between the
  // list of known runs and the server's reading of it.
  void reconciliation.run().then(() => {
    if (!reconciliation.isStopped) subscription.start();
  });

  let stopping: Promise<void> | undefined;
  const finish = async (flushMs: number): Promise<void> => {
    const isDrained = await sender.drain(flushMs);
    if (!isDrained) {
      logger.warn('reports left undelivered; they are sent at the next start', {
        records: outbox.size,
      });
    }
    await heartbeat.stop();
    await sender.stop();
    await outbox.close();
    await journal.close();
  };
  let abortGraceful: (() => void) | undefined;

  return {
    shutdown() {
      stopping ??= (async () => {
        logger.info('shutting down: finishing running work');
        reconciliation.stop();
        await subscription.stop();
        work.stopStartingRuns();
        const forced = new Promise<void>((resolve) => (abortGraceful = resolve));
        await Promise.race([work.whenNoneRunning(), forced]);
        await finish(shutdownFlushMs);
      })();
      return stopping;
    },
    async forceStop() {
      logger.warn('stopping now: killing running work');
      work.stopStartingRuns();
      work.cancelRunning('the executor was stopped');
      abortGraceful?.();
      reconciliation.stop();
      await subscription.stop();
      await work.whenNoneRunning();
      if (stopping) {
        // A graceful shutdown is flushing: give it as long as a forced stop allows. What is not
        // delivered is on disk (fsynced) and sent at the next start.
        await Promise.race([
          stopping,
          new Promise((resolve) => setTimeout(resolve, forcedStopFlushMs).unref()),
        ]);
        return;
      }
      stopping = finish(forcedStopFlushMs);
      await stopping;
    },
  };
}
