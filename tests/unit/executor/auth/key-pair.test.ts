import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureKeyPair, loadKeyPair, privateKeyPath } from '../../../../executor/auth/key-pair.js';

const folder = mkdtempSync(path.join(tmpdir(), 'key-pair-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('executor key pair', () => {
  it('is created once, with a private key file readable by its owner only', async () => {
    const stateDir = path.join(folder, 'state');
    const created = await ensureKeyPair(stateDir);
    expect(created.isNew).toBe(true);
    expect(statSync(privateKeyPath(stateDir)).mode & 0o777).toBe(0o600);
    expect(readFileSync(privateKeyPath(stateDir), 'utf8')).toContain('BEGIN PRIVATE KEY');
    expect(created.keyPair.publicKeyPem).toContain('BEGIN PUBLIC KEY');
    expect(created.keyPair.privateKey.asymmetricKeyDetails?.modulusLength).toBe(2048);

    const again = await ensureKeyPair(stateDir);
    expect(again.isNew).toBe(false);
    expect(again.keyPair.publicKeyPem).toBe(created.keyPair.publicKeyPem);
  });

  it('says what to do when there is no key', async () => {
    await expect(loadKeyPair(path.join(folder, 'empty'))).rejects.toThrow(/register.*keygen/);
  });
});
