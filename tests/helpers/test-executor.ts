import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { SignJWT } from 'jose';
import type { Client } from 'graphql-ws';
import {
  CreateEnrollmentTokenDocument,
  ExecutorAssignmentsDocument,
  RegisterExecutorDocument,
  type ExecutorAssignmentsSubscription,
} from '../generated/graphql.js';
import { GraphqlClient, type GraphqlResult, type VariablesArg } from './graphql-client.js';
import type { TestServer } from './test-server.js';
import { record, wsClient, type SubscriptionRecorder } from './ws-client.js';

export interface TokenClaims {
  sub?: string;
  aud?: string;
  iat?: number;
  exp?: number;
  jti?: string;
  key?: KeyObject;
}

/**
 * A protocol-level executor for tests: a real key pair, real enrollment, real signed tokens,
 * real HTTP and WebSocket. (The executor program itself is tested with real processes.)
 */
export class TestExecutor {
  private sockets: Client[] = [];

  private constructor(
    readonly server: TestServer,
    readonly id: string,
    readonly name: string,
    readonly privateKey: KeyObject,
  ) {}

  static async enroll(
    server: TestServer,
    options: { name: string; groupId?: string; capacity?: number },
  ): Promise<TestExecutor> {
    const admin = await server.asAdmin();
    const { createEnrollmentToken } = await admin.data(CreateEnrollmentTokenDocument, {
      groupId: options.groupId ?? null,
    });
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const { registerExecutor } = await server.anonymous.data(RegisterExecutorDocument, {
      input: {
        enrollmentToken: createEnrollmentToken.token,
        name: options.name,
        host: `${options.name}.test:9100`,
        publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        capacity: options.capacity ?? 4,
      },
    });
    return new TestExecutor(server, registerExecutor.id, options.name, privateKey);
  }

  async token(claims: TokenClaims = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'RS256' })
      .setSubject(claims.sub ?? this.id)
      .setAudience(claims.aud ?? 'graphcron-executor')
      .setIssuedAt(claims.iat ?? now)
      .setExpirationTime(claims.exp ?? now + 120)
      .setJti(claims.jti ?? randomUUID())
      .sign(claims.key ?? this.privateKey);
  }

  /** One mutation with a fresh token, as the executor program sends them. */
  async call<TData, TVariables>(
    document: TypedDocumentNode<TData, TVariables>,
    variables: TVariables,
  ): Promise<GraphqlResult<TData>> {
    const client = new GraphqlClient(this.server.anonymous.url, await this.token());
    return client.execute(document, ...([variables] as VariablesArg<TVariables>));
  }

  async data<TData, TVariables>(
    document: TypedDocumentNode<TData, TVariables>,
    variables: TVariables,
  ): Promise<TData> {
    const result = await this.call(document, variables);
    if (result.errors?.length || !result.data)
      throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
    return result.data;
  }

  /** Opens a WebSocket (fresh token) and subscribes to its assignments. */
  assignments(): SubscriptionRecorder<ExecutorAssignmentsSubscription> {
    const socket = wsClient(this.server.anonymous.url, async () => ({
      authorization: `Bearer ${await this.token()}`,
    }));
    this.sockets.push(socket);
    return record(socket, ExecutorAssignmentsDocument);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets.splice(0)) await socket.dispose();
  }
}
