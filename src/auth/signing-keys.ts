import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, type JSONWebKeySet, type JWK } from 'jose';
import type { EntityManager } from '@mikro-orm/postgresql';
import { SigningKey } from './signing-key.entity.js';

/** The key that signs access tokens, and every public key that verifies them. */
export interface KeyRing {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKeys: ReadonlyMap<string, KeyObject>;
  readonly jwks: JSONWebKeySet;
}

/**
 * Uses GRAPHCRON_JWT_PRIVATE_KEY when given; otherwise the key stored in the database, created
 * under an advisory lock on first start so that replicas starting together agree on one key.
 */
export async function loadKeyRing(
  em: EntityManager,
  configuredPem: string | undefined,
): Promise<KeyRing> {
  const stored = await em.transactional(async (tx) => {
    await tx.execute(`select pg_advisory_xact_lock(hashtext('graphcron.signing_keys'))`);
    const existing = await tx.find(SigningKey, {}, { orderBy: { createdAt: 'asc' } });
    if (existing.length > 0 || configuredPem) return existing;
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const key = new SigningKey();
    key.privateKeyPem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    key.kid = await thumbprint(privateKey);
    tx.persist(key);
    return [key];
  });

  const signingPem = configuredPem ?? stored[0]?.privateKeyPem;
  if (!signingPem) throw new Error('no signing key');
  const privateKey = parsePrivateKey(signingPem);
  const kid = await thumbprint(privateKey);
  const publicKeys = new Map<string, KeyObject>();
  const keys: JWK[] = [];
  for (const pem of [signingPem, ...stored.map((k) => k.privateKeyPem)]) {
    const publicKey = createPublicKey(parsePrivateKey(pem));
    const id = await thumbprint(publicKey);
    if (publicKeys.has(id)) continue;
    publicKeys.set(id, publicKey);
    keys.push({ ...(await exportJWK(publicKey)), kid: id, alg: 'RS256', use: 'sig' });
  }
  return { kid, privateKey, publicKeys, jwks: { keys } };
}

function parsePrivateKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new Error('GRAPHCRON_JWT_PRIVATE_KEY is not a PEM private key');
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new Error('GRAPHCRON_JWT_PRIVATE_KEY must be an RSA key (tokens are RS256)');
  }
  return key;
}

async function thumbprint(key: KeyObject): Promise<string> {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return calculateJwkThumbprint(await exportJWK(publicKey));
}
