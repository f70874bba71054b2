import { randomBytes } from 'node:crypto';
import { CreateUserDocument } from '../generated/graphql.js';
import type { GraphqlClient } from './graphql-client.js';
import type { TestServer } from './test-server.js';

export type Role = 'ADMIN' | 'USER' | 'GUEST';

export interface TestUser {
  id: string;
  username: string;
  password: string;
  client: GraphqlClient;
}

/** Creates a user with the given role through the API (as admin) and logs them in. */
export async function createUser(server: TestServer, role: Role, name?: string): Promise<TestUser> {
  const admin = await server.asAdmin();
  const username = name ?? `${role.toLowerCase()}-${randomBytes(4).toString('hex')}`;
  const password = `pw-${randomBytes(8).toString('hex')}`;
  const { createUser } = await admin.data(CreateUserDocument, {
    input: { username, password, role },
  });
  return { id: createUser.id, username, password, client: await server.login(username, password) };
}
