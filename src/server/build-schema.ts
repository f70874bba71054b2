import { createPubSub } from '@graphql-yoga/subscription';
import type { GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { AuditResolver } from '../audit/audit.resolver.js';
import { authChecker } from '../auth/auth-checker.js';
import { AuthResolver } from '../auth/auth.resolver.js';
import { DashboardResolver } from '../dashboard/dashboard.resolver.js';
import { ExecutorBindingResolver } from '../executor-bindings/executor-binding.resolver.js';
import { ExecutorGroupResolver } from '../executor-groups/executor-group.resolver.js';
import { EnrollmentResolver } from '../executors/enrollment.resolver.js';
import { ExecutorLiveResolver } from '../executors/executor-live.resolver.js';
import { ExecutorResolver } from '../executors/executor.resolver.js';
import { ExecutorProtocolResolver } from '../executor-protocol/executor-protocol.resolver.js';
import { TaskInstanceLiveResolver } from '../task-instances/task-instance-live.resolver.js';
import { TaskInstanceResolver } from '../task-instances/task-instance.resolver.js';
import { TaskLogLiveResolver } from '../task-logs/task-log-live.resolver.js';
import { TaskLogResolver } from '../task-logs/task-log.resolver.js';
import { TaskResolver } from '../tasks/task.resolver.js';
import { UserResolver } from '../users/user.resolver.js';
import { guardArguments } from './argument-guard.js';

export const resolvers = [
  AuthResolver,
  UserResolver,
  ExecutorGroupResolver,
  ExecutorResolver,
  ExecutorBindingResolver,
  TaskResolver,
  TaskInstanceResolver,
  TaskLogResolver,
  AuditResolver,
  EnrollmentResolver,
  ExecutorProtocolResolver,
  TaskInstanceLiveResolver,
  TaskLogLiveResolver,
  ExecutorLiveResolver,
  DashboardResolver,
] as const;

/** The whole GraphQL schema; `npm run schema:emit` prints it to schema/schema.graphql. */
export async function buildGraphqlSchema(): Promise<GraphQLSchema> {
  const schema = await buildSchema({
    resolvers,
    authChecker,
    validate: false,
    emitSchemaFile: false,
    // Subscriptions here bring their own `subscribe` (fed by PostgreSQL LISTEN/NOTIFY, so they
    // work across replicas); type-graphql still insists on a pub/sub, which stays unused.
    pubSub: createPubSub(),
  });
  return guardArguments(schema);
}
