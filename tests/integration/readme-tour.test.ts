import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateExecutorBindingDocument,
  CreateExecutorDocument,
  CreateExecutorGroupDocument,
} from '../generated/graphql.js';
import type { GraphqlClient } from '../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/** The README's tour, run as written on a new server: the README stays true. */
describe('README tour', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
    // What `npm start` sets up on a new install: the group "local" with its executor, binding 1.
    const { createExecutorGroup } = await admin.data(CreateExecutorGroupDocument, {
      input: { name: 'local' },
    });
    const { createExecutor } = await admin.data(CreateExecutorDocument, {
      input: { name: 'local', host: 'localhost:9100', machineId: 0 },
    });
    await admin.data(CreateExecutorBindingDocument, {
      input: { name: 'local', groupId: createExecutorGroup.id, executorId: createExecutor.id },
    });
  });
  afterAll(() => server?.stop());

  it('every query and mutation in the README runs without errors, in order', async () => {
    const readme = readFileSync('README.md', 'utf8');
    const blocks = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) =>
      m[1]!.replace(/^ {3}/gm, ''),
    );
    const runnable = blocks.filter(
      // Login needs the printed password, subscriptions need a WebSocket, and "<run id>" is a
      // placeholder: the auth and executor tests cover those.
      (block) => !/\blogin\(|^\s*subscription\b|<run id>/.test(block),
    );
    expect(runnable.length).toBeGreaterThanOrEqual(8);
    for (const block of runnable) {
      const result = await admin.raw(block);
      expect(result.errors, block).toBeUndefined();
    }
  });
});
