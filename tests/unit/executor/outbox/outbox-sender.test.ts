import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TokenSigner } from '../../../../executor/auth/executor-token.js';
import { silentLogger } from '../../../../executor/logger.js';
import { Outbox } from '../../../../executor/outbox/outbox.js';
import { OutboxSender } from '../../../../executor/outbox/outbox-sender.js';
import { deliverBatch } from '../../../../executor/outbox/report-delivery.js';
import type { Report } from '../../../../executor/outbox/report.js';
import { createGraphqlHttpClient } from '../../../../executor/transport/graphql-http-client.js';
import { enrolledSigner } from '../helpers/executor-keys.js';
import { FakeProtocolServer, protocolError } from '../helpers/fake-protocol-server.js';

const run = { instanceId: '900', attempt: 2 };
const at = '2030-01-01T00:00:00.000Z';

/** The reports of one short run, in the order a run makes them. */
const runReports: Report[] = [
  { type: 'acknowledge', run },
  { type: 'started', input: { ...run, startedAt: at } },
  ...[0, 1, 2].map((seq): Report => ({
    type: 'logChunk',
    run,
    chunk: { seq, stream: 'STDOUT', content: `line ${seq}\n`, emittedAt: at },
  })),
  {
    type: 'finished',
    input: { ...run, status: 'FINISHED', exitCode: 0, finishedAt: at, durationMs: 5, result: 'ok' },
  },
];

describe('OutboxSender', () => {
  let folder: string;
  let server: FakeProtocolServer;
  let signToken: TokenSigner;
  const senders: OutboxSender[] = [];

  function startSender(
    outbox: Outbox,
    url = server.url,
    startLingerMs?: number,
    finalWaitMs?: number,
  ): OutboxSender {
    const client = createGraphqlHttpClient({ url, signToken });
    const sender = new OutboxSender({
      outbox,
      deliver: (batch) => deliverBatch(client, batch),
      logger: silentLogger,
      backoff: { initialMs: 20, maxMs: 100 },
      startLingerMs,
      finalWaitMs,
    });
    senders.push(sender);
    sender.start();
    return sender;
  }

  beforeEach(async () => {
    folder = mkdtempSync(path.join(tmpdir(), 'sender-'));
    server = await FakeProtocolServer.start();
    signToken = enrolledSigner(server, '5');
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await Promise.all(senders.splice(0).map((sender) => sender.stop()));
    await server.stop();
    rmSync(folder, { recursive: true, force: true });
  });

  it('delivers what accumulated in one call, in order, and records the delivery on disk', async () => {
    const outbox = await Outbox.open(folder);
    for (const report of runReports) await outbox.append(report);
    const sender = startSender(outbox);
    expect(await sender.drain(10_000)).toBe(true);

    expect(server.calls.map((call) => call.field)).toEqual([
      'acknowledgeAssignment',
      'reportTaskStarted',
      'appendTaskLogs',
      'reportTaskFinished',
    ]);
    const [logs] = server.callsTo('appendTaskLogs');
    expect(logs!.args.input).toMatchObject({
      ...run,
      chunks: [{ seq: 0 }, { seq: 1 }, { seq: 2 }],
    });
    expect(server.requests.map((call) => call.field)).toEqual(['submitExecutorReports']);
    expect(server.requests[0]!.executorId).toBe('5');
    await outbox.close(); // the progress file is written after the call, not awaited by it
    const reopened = await Outbox.open(folder);
    expect(reopened.size).toBe(0);
    await reopened.close();
  });

  it('holds a call of starts alone back for the run to end, which then goes in the same call', async () => {
    const outbox = await Outbox.open(folder);
    startSender(outbox, server.url, 60_000);
    await outbox.append(runReports[1]!); // started
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.requests).toEqual([]);
    await outbox.append(runReports.at(-1)!); // finished
    await expect.poll(() => server.requests.length).toBe(1);
    expect(server.calls.map((call) => call.field)).toEqual([
      'reportTaskStarted',
      'reportTaskFinished',
    ]);
    await outbox.close();
  });

  it('sends starts alone once the linger is over', async () => {
    const outbox = await Outbox.open(folder);
    startSender(outbox, server.url, 200);
    await outbox.append(runReports[1]!);
    await expect.poll(() => server.requests.length).toBe(1);
    expect(server.calls.map((call) => call.field)).toEqual(['reportTaskStarted']);
    await outbox.close();
  });

  it('ends the linger when drained (shutdown does not wait it out)', async () => {
    const outbox = await Outbox.open(folder);
    const sender = startSender(outbox, server.url, 60_000);
    await outbox.append(runReports[1]!);
    expect(await sender.drain(5_000)).toBe(true);
    expect(server.calls.map((call) => call.field)).toEqual(['reportTaskStarted']);
    await outbox.close();
  });

  /** Makes every fsync of a file take `delayMs` longer, as on a busy disk. */
  async function slowFsyncs(delayMs: number): Promise<void> {
    const probe = await open(path.join(folder, 'probe'), 'w');
    const fileHandle = Object.getPrototypeOf(probe) as { datasync(): Promise<void> };
    await probe.close();
    const datasync = fileHandle.datasync;
    vi.spyOn(fileHandle, 'datasync').mockImplementation(async function (this: unknown) {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return datasync.call(this);
    });
  }

  it("waits for the end of a run being written and sends it with the run's start", async () => {
    await slowFsyncs(300);
    const outbox = await Outbox.open(folder);
    startSender(outbox, server.url, 0, 60_000); // no linger for starts alone: only the end's write
    await outbox.append(runReports[1]!); // started: deliverable at once, no fsync
    await outbox.append(runReports.at(-1)!); // finished: deliverable after its slow fsync
    await expect.poll(() => server.requests.length).toBe(1);
    expect(server.calls.map((call) => call.field)).toEqual([
      'reportTaskStarted',
      'reportTaskFinished',
    ]);
    await outbox.close();
  });

  it('sends the start alone when the end takes longer to write than finalWaitMs', async () => {
    await slowFsyncs(1_000);
    const outbox = await Outbox.open(folder);
    startSender(outbox, server.url, 0, 50);
    await outbox.append(runReports[1]!);
    const finished = outbox.append(runReports.at(-1)!);
    await expect.poll(() => server.requests.length).toBe(1);
    expect(server.calls.map((call) => call.field)).toEqual(['reportTaskStarted']);
    await finished;
    await expect.poll(() => server.requests.length).toBe(2);
    expect(server.calls.map((call) => call.field)).toEqual([
      'reportTaskStarted',
      'reportTaskFinished',
    ]);
    await outbox.close();
  });

  it('drops a report the server refuses for good (CONFLICT) and goes on', async () => {
    server.handlers.reportTaskStarted = () => {
      throw protocolError('CONFLICT', 'attempt 2 is superseded');
    };
    const outbox = await Outbox.open(folder);
    for (const report of runReports) await outbox.append(report);
    expect(await startSender(outbox).drain(10_000)).toBe(true);
    expect(server.calls.map((call) => call.field)).toEqual([
      'acknowledgeAssignment',
      'reportTaskStarted',
      'appendTaskLogs',
      'reportTaskFinished',
    ]);
    expect(outbox.size).toBe(0);
  });

  it('retries network failures and server errors, keeping the order', async () => {
    server.dropNextRequests = 2;
    let startedFailures = 1;
    server.handlers.reportTaskStarted = (call) => {
      if (startedFailures-- > 0) throw protocolError('INTERNAL_SERVER_ERROR');
      return { id: (call.args.input as { instanceId: string }).instanceId };
    };
    const outbox = await Outbox.open(folder);
    for (const report of runReports) await outbox.append(report);
    expect(await startSender(outbox).drain(10_000)).toBe(true);
    expect(server.calls.map((call) => call.field)).toEqual([
      'acknowledgeAssignment',
      'reportTaskStarted', // INTERNAL_SERVER_ERROR: the whole call failed, and is sent again
      'acknowledgeAssignment',
      'reportTaskStarted',
      'appendTaskLogs',
      'reportTaskFinished',
    ]);
    // Each attempt was one request with a token of its own (two dropped on the network).
    expect(server.requests).toHaveLength(2);
    expect(new Set(server.requests.map((call) => call.jti)).size).toBe(2);
  });

  it('splits a call the server refuses as a whole until the bad report is alone, and drops it', async () => {
    const accepted: string[] = [];
    server.handlers.submitExecutorReports = (call) => {
      const input = call.args.input as {
        acknowledged: unknown[];
        started: { instanceId: string }[];
        logs: { chunks: { seq: number }[] }[];
        finished: unknown[];
      };
      if (input.started.some((started) => started.instanceId === 'bad')) {
        throw protocolError('BAD_USER_INPUT', 'not an id');
      }
      accepted.push(
        ...input.acknowledged.map(() => 'ack'),
        ...input.started.map((started) => `started ${started.instanceId}`),
        ...input.logs.flatMap((entry) => entry.chunks.map((chunk) => `log ${chunk.seq}`)),
        ...input.finished.map(() => 'finished'),
      );
      return { refused: [], storedLogChunks: 0, duplicateLogChunks: 0 };
    };
    const outbox = await Outbox.open(folder);
    for (const report of runReports.slice(0, 2)) await outbox.append(report);
    await outbox.append({
      type: 'started',
      input: { instanceId: 'bad', attempt: 1, startedAt: at },
    });
    for (const report of runReports.slice(2)) await outbox.append(report);
    expect(await startSender(outbox).drain(10_000)).toBe(true);
    expect(accepted).toEqual(['ack', 'started 900', 'log 0', 'log 1', 'log 2', 'finished']);
    expect(outbox.size).toBe(0);
  });

  it('keeps reports while the server is unreachable and replays them after a restart', async () => {
    const unreachable = await FakeProtocolServer.start();
    const unreachableUrl = unreachable.url;
    await unreachable.stop();

    const before = await Outbox.open(folder);
    const offlineSender = startSender(before, unreachableUrl);
    for (const report of runReports) await before.append(report);
    expect(await offlineSender.drain(300)).toBe(false);
    await offlineSender.stop();
    expect(before.size).toBe(runReports.length);
    await before.close();

    const after = await Outbox.open(folder);
    expect(await startSender(after).drain(10_000)).toBe(true);
    expect(server.calls.map((call) => call.field)).toEqual([
      'acknowledgeAssignment',
      'reportTaskStarted',
      'appendTaskLogs',
      'reportTaskFinished',
    ]);
  });
});
