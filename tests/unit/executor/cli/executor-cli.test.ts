import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeProtocolServer } from '../helpers/fake-protocol-server.js';
import { runExecutorCommand } from '../helpers/executor-process.js';

const folder = mkdtempSync(path.join(tmpdir(), 'executor-cli-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('graphcron-executor keygen', () => {
  it('creates the key once (mode 0600) and prints the public key', async () => {
    const stateDir = path.join(folder, 'keygen');
    const first = await runExecutorCommand(['keygen', '--state-dir', stateDir]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(
      /^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/,
    );
    const keyFile = path.join(stateDir, 'executor-key.pem');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    // The private key never appears in the output.
    expect(first.stdout + first.stderr).not.toContain('PRIVATE KEY-----\n');

    const second = await runExecutorCommand(['keygen'], { GRAPHCRON_EXECUTOR_STATE_DIR: stateDir });
    expect(second.stdout).toBe(first.stdout);
  });
});

describe('graphcron-executor register', () => {
  let server: FakeProtocolServer;
  beforeEach(async () => {
    server = await FakeProtocolServer.start();
  });
  afterEach(() => server.stop());

  it('sends the public key with the enrollment token and keeps the identity', async () => {
    const stateDir = path.join(folder, 'register');
    const registered = await runExecutorCommand([
      'register',
      '--server',
      server.url,
      '--token',
      'enroll-secret',
      '--name',
      'worker-1',
      '--capacity',
      '8',
      '--tag',
      'batch',
      '--state-dir',
      stateDir,
    ]);
    expect(registered.code).toBe(0);
    expect(registered.stdout).toContain('registered executor worker-1 (id 1)');

    const [call] = server.callsTo('registerExecutor');
    expect(call!.executorId).toBeUndefined(); // No executor token: the enrollment token authorises it.
    expect(call!.args.input).toMatchObject({
      enrollmentToken: 'enroll-secret',
      name: 'worker-1',
      capacity: 8,
      tag: 'batch',
      host: expect.stringMatching(/:9100$/),
    });
    const publicKey = (call!.args.input as { publicKey: string }).publicKey;
    expect(publicKey).toContain('BEGIN PUBLIC KEY');
    expect(statSync(path.join(stateDir, 'executor-key.pem')).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path.join(stateDir, 'identity.json'), 'utf8'))).toEqual({
      serverUrl: server.url,
      executorId: '1',
      name: 'worker-1',
    });
    const keygen = await runExecutorCommand(['keygen', '--state-dir', stateDir]);
    expect(keygen.stdout.trim()).toBe(publicKey.trim());

    const again = await runExecutorCommand([
      'register',
      '--server',
      server.url,
      '--token',
      'other',
      '--name',
      'worker-1',
      '--state-dir',
      stateDir,
    ]);
    expect(again.code).toBe(64);
    expect(again.stderr).toContain('--force');
    expect(server.callsTo('registerExecutor')).toHaveLength(1);
  });

  it('refuses bad input with one clear line and exit code 64', async () => {
    const noToken = await runExecutorCommand(['register', '--server', server.url, '--name', 'x']);
    expect(noToken).toMatchObject({ code: 64 });
    expect(noToken.stderr.trim().split('\n')).toHaveLength(1);
    expect(noToken.stderr).toContain('--token');

    const badCapacity = await runExecutorCommand([
      'run',
      '--server',
      server.url,
      '--executor-id',
      '3',
      '--capacity',
      'lots',
    ]);
    expect(badCapacity.code).toBe(64);
    expect(badCapacity.stderr).toContain(
      '--capacity must be an integer from 1 to 1000, not "lots"',
    );

    const unknownFlag = await runExecutorCommand(['run', '--colour']);
    expect(unknownFlag.code).toBe(64);
  });
});
