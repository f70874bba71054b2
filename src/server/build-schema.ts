import type { GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { authChecker } from '../auth/auth-checker.js';
import { AuthResolver } from '../auth/auth.resolver.js';
import { UserResolver } from '../users/user.resolver.js';

export const resolvers = [AuthResolver, UserResolver] as const;

/** The whole GraphQL schema; `npm run schema:emit` prints it to schema/schema.graphql. */
export function buildGraphqlSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers,
    authChecker,
    validate: false,
    emitSchemaFile: false,
  });
}
