import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateExecutorDocument,
  ExecutorDocument,
  UpdateExecutorDocument,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { createExecutor, executorInput } from './fixtures.js';

const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicPem = rsa2048.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const publicJwk = JSON.stringify(rsa2048.publicKey.export({ format: 'jwk' }));

describe('executor public keys', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  it('accepts an RSA key as PEM (SPKI) or as a JWK, and stores both as the same PEM', async () => {
    const fromPem = await createExecutor(admin, { publicKey: `\n${publicPem}\n` });
    expect(fromPem.publicKey).toBe(publicPem);
    const fromJwk = await createExecutor(admin, { publicKey: publicJwk });
    expect(fromJwk.publicKey).toBe(publicPem);
  });

  it('replaces the key, leaves it alone when omitted, and removes it on null', async () => {
    const executor = await createExecutor(admin, { publicKey: publicPem });
    const untouched = await admin.data(UpdateExecutorDocument, {
      id: executor.id,
      input: { capacity: 2 },
    });
    expect(untouched.updateExecutor.publicKey).toBe(publicPem);
    const removed = await admin.data(UpdateExecutorDocument, {
      id: executor.id,
      input: { publicKey: null },
    });
    expect(removed.updateExecutor.publicKey).toBeNull();
    const added = await admin.data(UpdateExecutorDocument, {
      id: executor.id,
      input: { publicKey: publicJwk },
    });
    expect(added.updateExecutor.publicKey).toBe(publicPem);
  });

  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  it.each([
    ['an RSA key of 1024 bits', rsa1024.export({ type: 'spki', format: 'pem' }).toString()],
    ['an EC key', ec.export({ type: 'spki', format: 'pem' }).toString()],
    ['an EC key as JWK', JSON.stringify(ec.export({ format: 'jwk' }))],
    ['a private key (PEM)', rsa2048.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()],
    ['a private key (JWK)', JSON.stringify(rsa2048.privateKey.export({ format: 'jwk' }))],
    ['a PKCS#1 public key', rsa2048.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString()],
    // The first base64 line of the body replaced by characters base64 does not have.
    [
      'a PEM with a damaged body',
      publicPem
        .split('\n')
        .map((line, index) => (index === 1 ? '!'.repeat(line.length) : line))
        .join('\n'),
    ],
    ['JSON that is not a key', '{"kty":"RSA"}'],
    ['JSON that is not an object', '["RSA"]'],
    ['plain text', 'ssh-rsa AAAAB3NzaC1yc2E'],
  ])('refuses %s', async (_what, publicKey) => {
    const error = await admin.error(CreateExecutorDocument, {
      input: executorInput({ publicKey }),
    });
    expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.publicKey' });
    expect(error.message).toContain('RSA public key of at least 2048 bits');
  });

  it('keeps the old key when a new one is refused', async () => {
    const executor = await createExecutor(admin, { publicKey: publicPem });
    const error = await admin.error(UpdateExecutorDocument, {
      id: executor.id,
      input: { publicKey: 'not a key' },
    });
    expect(error.extensions?.field).toBe('input.publicKey');
    const { executor: read } = await admin.data(ExecutorDocument, { id: executor.id });
    expect(read.publicKey).toBe(publicPem);
  });
});
