import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphqlClient } from '../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/** The README's tour, run as written on a new server: the README stays true. */
describe('README tour', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  it('every GraphQL block in the README runs without errors, in order', async () => {
    const readme = readFileSync('README.md', 'utf8');
    const blocks = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThanOrEqual(6);
    for (const block of blocks) {
      if (/\blogin\(/.test(block)) continue; // needs the printed password; covered by the auth tests
      const result = await admin.raw(block);
      expect(result.errors, block).toBeUndefined();
    }
  });
});
