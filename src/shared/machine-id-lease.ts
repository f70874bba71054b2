import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from './logger.js';

const leaseSeconds = 60;
const renewEveryMs = 15_000;

export interface MachineIdLease {
  readonly machineId: number;
  /** Stops renewing and gives the id back. */
  stop(): Promise<void>;
}

/**
 * Claims the lowest snowflake machine id (0..1023) that no live replica holds, and keeps it
 * with a lease renewed in the background. Two replicas racing for one id: the unique key lets
 * one win and the other retries with the next free id.
 */
export async function acquireMachineIdLease(
  em: EntityManager,
  logger: Logger,
): Promise<MachineIdLease> {
  const holder = randomUUID();
  let machineId: number | undefined;
  for (let attempt = 0; attempt < 50 && machineId === undefined; attempt++) {
    const [row] = await em.execute<{ machine_id: number }[]>(
      `insert into server_nodes (machine_id, lease_holder, hostname, lease_expires_at)
       select g.id, ?, ?, now() + make_interval(secs => ?)
         from generate_series(0, 1023) as g(id)
        where not exists (select 1 from server_nodes n where n.machine_id = g.id and n.lease_expires_at > now())
        order by g.id
        limit 1
       on conflict (machine_id) do update
         set lease_holder = excluded.lease_holder, hostname = excluded.hostname,
             lease_expires_at = excluded.lease_expires_at
       where server_nodes.lease_expires_at <= now()
       returning machine_id`,
      [holder, hostname().slice(0, 300), leaseSeconds],
    );
    machineId = row?.machine_id;
  }
  if (machineId === undefined) {
    throw new Error('No free machine id: 1024 server replicas hold leases on this database.');
  }
  const id = machineId;
  const timer = setInterval(() => {
    em.execute(
      `update server_nodes set lease_expires_at = now() + make_interval(secs => ?)
        where machine_id = ? and lease_holder = ?`,
      [leaseSeconds, id, holder],
      'run',
    )
      .then((result) => {
        if ((result as { affectedRows?: number }).affectedRows === 0) {
          logger.error("lost the lease on this replica's machine id", { machineId: id });
        }
      })
      .catch((error: unknown) => logger.warn('could not renew the machine id lease', { error }));
  }, renewEveryMs);
  timer.unref();
  return {
    machineId: id,
    async stop() {
      clearInterval(timer);
      await em
        .execute(`delete from server_nodes where machine_id = ? and lease_holder = ?`, [id, holder])
        .catch(() => undefined);
    },
  };
}
