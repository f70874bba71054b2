import { createPublicKey } from 'node:crypto';
import { createTokenSigner, type TokenSigner } from '../../../../executor/auth/executor-token.js';
import { generateKeyPair } from '../../../../executor/auth/key-pair.js';
import type { FakeProtocolServer } from './fake-protocol-server.js';

/** A new key pair whose public key `server` knows as executor `executorId`; returns its signer. */
export function enrolledSigner(server: FakeProtocolServer, executorId: string): TokenSigner {
  const { keyPair } = generateKeyPair();
  server.publicKeys.set(executorId, createPublicKey(keyPair.publicKeyPem));
  return createTokenSigner(executorId, keyPair.privateKey);
}
