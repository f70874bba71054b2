import { createTestDatabase } from '../../helpers/test-database.js';
import { startFleet, type Fleet, type FleetExecutor } from './fleet.js';
import { FaultExecutorsDocument } from './operations.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

/**
 * The setup of the connection-cut scenarios: one server, executor `cut` reaching it only
 * through a TCP proxy (HTTP reports and heartbeats, and the WebSocket), executor `direct`
 * reaching it directly. `cut` is registered first, so a FAILOVER task runs there while it is
 * online. Both run commands with GRAPHCRON_FAULT_ROLE set to their name.
 */
export interface PartitionSetup {
  readonly fleet: Fleet;
  readonly proxy: TcpProxy;
  readonly cut: FleetExecutor;
  readonly direct: FleetExecutor;
  /** The server's heartbeat window, in seconds. */
  readonly heartbeatTimeoutSeconds: number;
  /** Whether the server sees `executor` online, through the API. */
  isOnline(executor: FleetExecutor): Promise<{ isOnline: boolean; lastHeartbeatAt: number }>;
  stop(): Promise<void>;
}

export async function startPartitionSetup(
  heartbeatTimeoutSeconds: number,
): Promise<PartitionSetup> {
  const database = await createTestDatabase();
  const fleet = await startFleet({
    databaseUrl: database.url,
    env: { GRAPHCRON_EXECUTOR_HEARTBEAT_TIMEOUT_SECONDS: String(heartbeatTimeoutSeconds) },
    onStop: () => database.drop(),
  });
  let proxy: TcpProxy | undefined;
  try {
    const server = new URL(fleet.servers[0]!.url);
    proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port) });
    const cut = await fleet.addExecutor({
      name: 'cut',
      capacity: 4,
      serverUrl: proxy.urlFor(fleet.servers[0]!.url),
      // Its refusals and reconnects are part of what the tests read.
      env: { GRAPHCRON_FAULT_ROLE: 'cut', GRAPHCRON_EXECUTOR_LOG_LEVEL: 'info' },
    });
    const direct = await fleet.addExecutor({
      name: 'direct',
      capacity: 4,
      env: { GRAPHCRON_FAULT_ROLE: 'direct' },
    });
    await fleet.waitOnline([cut, direct]);
    const setup: PartitionSetup = {
      fleet,
      proxy,
      cut,
      direct,
      heartbeatTimeoutSeconds,
      async isOnline(executor) {
        const { executors } = await fleet.admin.data(FaultExecutorsDocument, {});
        const state = executors.nodes.find((e) => e.id === executor.id);
        return {
          isOnline: state?.isOnline ?? false,
          lastHeartbeatAt: state?.lastHeartbeatAt ? Date.parse(state.lastHeartbeatAt) : 0,
        };
      },
      async stop() {
        await fleet.stop();
        await proxy?.close();
      },
    };
    return setup;
  } catch (error) {
    await fleet.stop().catch(() => undefined);
    await proxy?.close();
    throw error;
  }
}

/** Lines of `output` that report a CONFLICT refusal naming `instanceId`. */
export function conflictLines(output: string, instanceId: string): string[] {
  return output
    .split('\n')
    .filter((line) => line.includes('CONFLICT') && line.includes(instanceId));
}

/**
 * A short account of refusal lines, for the test output: the kind of report refused, and how
 * many records it dropped when the line says so (the executor logs JSON lines).
 */
export function describeRefusals(lines: string[]): string {
  return lines
    .map((line) => {
      try {
        const { report, records } = JSON.parse(line) as { report?: unknown; records?: unknown };
        return `${String(report ?? '?')}${records === undefined ? '' : `×${String(records)}`}`;
      } catch {
        return line.slice(0, 80);
      }
    })
    .join(', ');
}
