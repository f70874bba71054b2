import { startApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/shared/logger.js';
import { LoginDocument } from '../generated/graphql.js';
import { GraphqlClient } from './graphql-client.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

export const adminUsername = 'admin';
export const adminPassword = 'admin-password-for-tests';

export interface TestServer {
  readonly app: RunningApp;
  readonly database: TestDatabase;
  /** A client with no token. */
  readonly anonymous: GraphqlClient;
  /** Logs in and returns a client carrying the access token. */
  login(username: string, password: string): Promise<GraphqlClient>;
  asAdmin(): Promise<GraphqlClient>;
  stop(): Promise<void>;
}

/** A real server (HTTP + WebSocket) on a random port, on its own fresh database. */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const database = await createTestDatabase();
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    GRAPHCRON_ADMIN_USERNAME: adminUsername,
    GRAPHCRON_ADMIN_PASSWORD: adminPassword,
    GRAPHCRON_LOG_LEVEL: 'error',
    ...env,
  });
  const app = await startApp(config, database.url, createLogger(config.logLevel));
  const anonymous = new GraphqlClient(`http://127.0.0.1:${app.port}/graphql`);
  const login = async (username: string, password: string): Promise<GraphqlClient> => {
    const { login } = await anonymous.data(LoginDocument, { username, password });
    return anonymous.withToken(login.accessToken);
  };
  return {
    app,
    database,
    anonymous,
    login,
    asAdmin: () => login(adminUsername, adminPassword),
    async stop() {
      await app.stop();
      await database.drop();
    },
  };
}
