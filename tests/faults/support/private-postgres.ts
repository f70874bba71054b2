import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  startEmbeddedPostgres,
  type EmbeddedPostgres,
} from '../../../src/database/embedded-postgres.js';
import { admin, databaseUrlFor } from '../../../src/database/scratch-database.js';

/**
 * A PostgreSQL of its own for one test, which the test may stop and start again: the product's
 * embedded PostgreSQL (real binaries), its data under the system temp folder (mode 755: as root,
 * PostgreSQL runs as the `postgres` user, which must enter it), on one fixed port so that every
 * client reconnects to the same address after a restart.
 */
export interface PrivatePostgres {
  readonly port: number;
  /** `postgres://…/<database>` of the database made by `createDatabase`. */
  databaseUrl(database: string): string;
  createDatabase(database: string): Promise<string>;
  readonly isRunning: boolean;
  /** Stops PostgreSQL (fast shutdown: sessions are terminated) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same data folder and port. */
  start(): Promise<void>;
  /** Stops it and removes its data folder. */
  destroy(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const folder = mkdtempSync(path.join(tmpdir(), 'graphcron-faults-pg-'));
  chmodSync(folder, 0o755);
  const port = await freePort();
  let current: EmbeddedPostgres | undefined = await startEmbeddedPostgres({ folder, port });
  const serverUrl = current.url;
  const self: PrivatePostgres = {
    port,
    databaseUrl: (database) => databaseUrlFor(serverUrl, database),
    async createDatabase(database) {
      await admin(serverUrl, `CREATE DATABASE ${database}`);
      return databaseUrlFor(serverUrl, database);
    },
    get isRunning() {
      return current !== undefined;
    },
    async stop() {
      const running = current;
      current = undefined;
      await running?.stop();
    },
    async start() {
      if (current) return;
      current = await startEmbeddedPostgres({ folder, port });
    },
    async destroy() {
      await self.stop().catch(() => undefined);
      rmSync(folder, { recursive: true, force: true });
    },
  };
  return self;
}
