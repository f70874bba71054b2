import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';

export const privateKeyFileName = 'executor-key.pem';

/** The executor's RSA key pair; the private half never leaves this machine. */
export interface ExecutorKeyPair {
  readonly privateKey: KeyObject;
  /** PEM (SPKI), what the server stores on the Executor. */
  readonly publicKeyPem: string;
}

export function privateKeyPath(stateDir: string): string {
  return path.join(stateDir, privateKeyFileName);
}

/** A new RSA-2048 key pair, in memory only. */
export function generateKeyPair(): { keyPair: ExecutorKeyPair; privateKeyPem: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { keyPair: fromPrivateKey(privateKey), privateKeyPem };
}

function fromPrivateKey(privateKey: KeyObject): ExecutorKeyPair {
  const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' });
  return { privateKey, publicKeyPem: publicKeyPem.toString() };
}

/**
 * Writes the private key with mode 0600 from the first byte (never world-readable, not even for
 * an instant), through a temporary file and a rename so that a crash leaves no half key.
 */
export async function savePrivateKey(stateDir: string, privateKeyPem: string): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const target = privateKeyPath(stateDir);
  const temporary = `${target}.${process.pid}.tmp`;
  const file = await open(temporary, 'w', 0o600);
  try {
    await file.writeFile(privateKeyPem);
    await file.sync();
  } finally {
    await file.close();
  }
  // The mode given to open() is narrowed by the umask only; chmod makes 0600 exact.
  await chmod(temporary, 0o600);
  await rename(temporary, target);
}

/** Loads the key pair from `<stateDir>/executor-key.pem`; a clear error if it is missing. */
export async function loadKeyPair(stateDir: string): Promise<ExecutorKeyPair> {
  const file = privateKeyPath(stateDir);
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        `no private key at ${file}: run "graphcron-executor register" or "keygen" first`,
      );
    }
    throw error;
  }
  try {
    return fromPrivateKey(createPrivateKey(pem));
  } catch {
    throw new Error(`${file} does not hold a PEM private key`);
  }
}

/** Loads the key pair, or creates and saves one when there is none yet. */
export async function ensureKeyPair(
  stateDir: string,
): Promise<{ keyPair: ExecutorKeyPair; isNew: boolean }> {
  if (existsSync(privateKeyPath(stateDir))) {
    return { keyPair: await loadKeyPair(stateDir), isNew: false };
  }
  const { keyPair, privateKeyPem } = generateKeyPair();
  await savePrivateKey(stateDir, privateKeyPem);
  return { keyPair, isNew: true };
}
