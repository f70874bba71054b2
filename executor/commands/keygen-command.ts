import { parseArgs } from 'node:util';
import { ensureKeyPair, privateKeyPath } from '../auth/key-pair.js';
import { stateDirFrom } from '../config/run-config.js';

type Environment = Record<string, string | undefined>;

/**
 * `keygen`: makes the key pair if there is none and prints the public key, for an admin who
 * creates the Executor with it (then `run --executor-id <id>`).
 */
export async function keygenCommand(
  argv: string[],
  environment: Environment,
  print: (line: string) => void,
  note: (line: string) => void,
): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { 'state-dir': { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  const stateDir = stateDirFrom(values['state-dir'], environment);
  const { keyPair, isNew } = await ensureKeyPair(stateDir);
  note(
    isNew
      ? `created a key pair; the private key is in ${privateKeyPath(stateDir)} (mode 0600)`
      : `using the existing key in ${privateKeyPath(stateDir)}`,
  );
  print(keyPair.publicKeyPem.trimEnd());
}
