import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateEnrollmentTokenDocument,
  CreateExecutorGroupDocument,
  ExecutorBindingsDocument,
  ExecutorsDocument,
  RegisterExecutorDocument,
} from '../../generated/graphql.js';
import type { GraphqlClient } from '../../helpers/graphql-client.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';
import { createUser } from '../../helpers/users.js';

const publicKeyPem = () =>
  generateKeyPairSync('rsa', { modulusLength: 2048 })
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString();

describe('executor enrollment', () => {
  let server: TestServer;
  let admin: GraphqlClient;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.asAdmin();
  });
  afterAll(() => server?.stop());

  it('registers an executor with a one-time token, binding it into the token group', async () => {
    const { createExecutorGroup } = await admin.data(CreateExecutorGroupDocument, {
      input: { name: 'fleet' },
    });
    const { createEnrollmentToken } = await admin.data(CreateEnrollmentTokenDocument, {
      groupId: createExecutorGroup.id,
      expiresInSeconds: 600,
    });
    expect(createEnrollmentToken.token).toMatch(/^gcenr_/);
    const input = {
      enrollmentToken: createEnrollmentToken.token,
      name: 'node-a',
      host: 'node-a:9100',
      publicKey: publicKeyPem(),
    };
    const { registerExecutor } = await server.anonymous.data(RegisterExecutorDocument, { input });
    expect(registerExecutor).toMatchObject({ name: 'node-a', machineId: 0, isOnline: false });
    const { executorBindings } = await admin.data(ExecutorBindingsDocument, {
      filter: { groupId: createExecutorGroup.id },
    });
    expect(executorBindings.nodes.map((b) => b.executor.id)).toEqual([registerExecutor.id]);

    const again = await server.anonymous.error(RegisterExecutorDocument, {
      input: { ...input, name: 'node-b' },
    });
    expect(again.extensions?.code).toBe('UNAUTHENTICATED');
    expect(again.message).toMatch(/already used/);
  });

  it('refuses expired tokens and leaves a token unused when registration fails', async () => {
    const { createEnrollmentToken } = await admin.data(CreateEnrollmentTokenDocument, {});
    const bad = await server.anonymous.error(RegisterExecutorDocument, {
      input: {
        enrollmentToken: createEnrollmentToken.token,
        name: 'node-c',
        host: 'node-c:9100',
        publicKey: 'not a key',
      },
    });
    expect(bad.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.publicKey' });
    const badHost = await server.anonymous.error(RegisterExecutorDocument, {
      input: {
        enrollmentToken: createEnrollmentToken.token,
        name: 'node-c',
        host: 'no port',
        publicKey: publicKeyPem(),
      },
    });
    expect(badHost.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.host' });
    const { registerExecutor } = await server.anonymous.data(RegisterExecutorDocument, {
      input: {
        enrollmentToken: createEnrollmentToken.token,
        name: 'node-c',
        host: 'node-c:9100',
        publicKey: publicKeyPem(),
      },
    });
    expect(registerExecutor.machineId).toBe(1);

    const { createEnrollmentToken: expiring } = await admin.data(CreateEnrollmentTokenDocument, {});
    await server.app.orm.em
      .fork()
      .getConnection()
      .execute(`update enrollment_tokens set expires_at = now() - interval '1 second'`);
    const expired = await server.anonymous.error(RegisterExecutorDocument, {
      input: {
        enrollmentToken: expiring.token,
        name: 'node-d',
        host: 'node-d:9100',
        publicKey: publicKeyPem(),
      },
    });
    expect(expired.extensions?.code).toBe('UNAUTHENTICATED');
    const { executors } = await admin.data(ExecutorsDocument, {});
    expect(executors.nodes.map((e) => e.name).sort()).toEqual(['node-a', 'node-c']);
  });

  it('only admins hand out enrollment tokens', async () => {
    const user = await createUser(server, 'USER');
    expect(await user.client.errorCode(CreateEnrollmentTokenDocument, {})).toBe('FORBIDDEN');
    const outOfRange = await admin.error(CreateEnrollmentTokenDocument, { expiresInSeconds: 5 });
    expect(outOfRange.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'expiresInSeconds',
    });
    expect(await admin.errorCode(CreateEnrollmentTokenDocument, { groupId: '9999' })).toBe(
      'NOT_FOUND',
    );
  });

  it('refuses an empty group id instead of issuing a token without a group', async () => {
    const tokens = async () =>
      (
        await server.app.orm.em
          .fork()
          .getConnection()
          .execute<{ count: string }[]>('select count(*) from enrollment_tokens')
      )[0]!.count;
    const before = await tokens();
    const error = await admin.error(CreateEnrollmentTokenDocument, { groupId: '' });
    expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'groupId' });
    expect(await tokens()).toBe(before);
    // Omitted and null still mean "no group".
    const { createEnrollmentToken } = await admin.data(CreateEnrollmentTokenDocument, {
      groupId: null,
    });
    expect(createEnrollmentToken.groupId).toBeNull();
  });
});
