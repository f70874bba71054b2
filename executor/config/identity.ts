import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Who this executor is, written by `register` and read by `run`. No secret in it. */
export interface ExecutorIdentity {
  readonly serverUrl: string;
  readonly executorId: string;
  readonly name: string;
}

export function identityPath(stateDir: string): string {
  return path.join(stateDir, 'identity.json');
}

export function hasIdentity(stateDir: string): boolean {
  return existsSync(identityPath(stateDir));
}

/** The identity, or undefined when this state folder has none (e.g. an admin-created executor). */
export async function readIdentity(stateDir: string): Promise<ExecutorIdentity | undefined> {
  let text: string;
  try {
    text = await readFile(identityPath(stateDir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = JSON.parse(text) as Partial<ExecutorIdentity>;
  if (typeof parsed.serverUrl !== 'string' || parsed.executorId === undefined) {
    throw new Error(`${identityPath(stateDir)} lacks serverUrl or executorId`);
  }
  return {
    serverUrl: parsed.serverUrl,
    executorId: String(parsed.executorId),
    name: typeof parsed.name === 'string' ? parsed.name : '',
  };
}

export async function writeIdentity(stateDir: string, identity: ExecutorIdentity): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const file = identityPath(stateDir);
  await writeFile(`${file}.tmp`, JSON.stringify(identity, null, 2) + '\n');
  await rename(`${file}.tmp`, file);
}
