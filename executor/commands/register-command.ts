import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { generateKeyPair, loadKeyPair, privateKeyPath, savePrivateKey } from '../auth/key-pair.js';
import { hasIdentity, identityPath, writeIdentity } from '../config/identity.js';
import { stateDirFrom } from '../config/run-config.js';
import { parseServerUrl } from '../config/server-url.js';
import { parseNumber, UsageError } from '../config/usage-error.js';
import { RegisterExecutorDocument } from '../generated/graphql.js';
import { createGraphqlHttpClient } from '../transport/graphql-http-client.js';
import { existsSync } from 'node:fs';

type Environment = Record<string, string | undefined>;

/**
 * `register`: enrolls this machine with an enrollment token. The key pair is made here; only the
 * public key is sent. An existing key (from `keygen`) is reused; `--force` replaces both the key
 * and the identity, and the new key is saved only once the server has accepted it.
 */
export async function registerCommand(
  argv: string[],
  environment: Environment,
  print: (line: string) => void,
): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: 'string' },
      token: { type: 'string' },
      name: { type: 'string' },
      host: { type: 'string' },
      capacity: { type: 'string' },
      tag: { type: 'string' },
      'state-dir': { type: 'string' },
      force: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const serverText = values.server ?? environment.GRAPHCRON_SERVER_URL;
  if (!serverText) throw new UsageError('register needs --server <url> (or GRAPHCRON_SERVER_URL)');
  const server = parseServerUrl(serverText, values.server ? '--server' : 'GRAPHCRON_SERVER_URL');
  // An environment variable keeps the token out of the process list.
  const enrollmentToken = values.token ?? environment.GRAPHCRON_ENROLLMENT_TOKEN;
  if (!enrollmentToken) {
    throw new UsageError(
      'register needs --token <enrollment token> (or GRAPHCRON_ENROLLMENT_TOKEN)',
    );
  }
  if (!values.name) throw new UsageError('register needs --name <name>');
  const capacity = values.capacity
    ? parseNumber('--capacity', values.capacity, { min: 1, max: 1000, isInteger: true })
    : 4;
  const stateDir = stateDirFrom(values['state-dir'], environment);
  if (hasIdentity(stateDir) && !values.force) {
    throw new UsageError(
      `${identityPath(stateDir)} exists: this executor is registered already (use --force to register again)`,
    );
  }

  const isReusingKey = existsSync(privateKeyPath(stateDir)) && !values.force;
  const generated = isReusingKey ? undefined : generateKeyPair();
  const keyPair = generated?.keyPair ?? (await loadKeyPair(stateDir));

  const client = createGraphqlHttpClient({ url: server.httpUrl });
  const { registerExecutor } = await client.request(RegisterExecutorDocument, {
    input: {
      enrollmentToken,
      name: values.name,
      host: values.host ?? `${hostname()}:9100`,
      publicKey: keyPair.publicKeyPem,
      capacity,
      tag: values.tag ?? '',
    },
  });
  if (generated) await savePrivateKey(stateDir, generated.privateKeyPem);
  await writeIdentity(stateDir, {
    serverUrl: server.httpUrl,
    executorId: registerExecutor.id,
    name: registerExecutor.name,
  });
  print(
    `registered executor ${registerExecutor.name} (id ${registerExecutor.id}) with ${server.httpUrl}; state in ${stateDir}`,
  );
}
