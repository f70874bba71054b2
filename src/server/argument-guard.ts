import {
  defaultFieldResolver,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isObjectType,
  type GraphQLFieldResolver,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';
import { ValidationError } from '../shared/app-error.js';
import { storableText, validInstant } from '../shared/validation.js';

/**
 * Extension of an input field (`@Extensions({ [checkedPerItem]: true })`) whose items its
 * resolver checks one by one, refusing the bad ones and applying the rest: a batch of executor
 * reports must not fail as a whole for one bad report. The guard leaves such a field alone.
 */
export const checkedPerItem = 'checkedPerItem';

/**
 * Checks the coerced arguments of every field before its resolver (or, for a subscription, its
 * `subscribe`) runs, so that variables and inline literals get the same rules everywhere: text
 * PostgreSQL can store (no U+0000, no lone surrogate), finite numbers (graphql-js reads the
 * literal `1e400` as Infinity), and instants from 1970 to 9999. A refusal is BAD_USER_INPUT
 * naming the argument path (`input.env[0].value`). Mutates and returns `schema`.
 */
export function guardArguments(schema: GraphQLSchema): GraphQLSchema {
  const subscriptionType = schema.getSubscriptionType();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      if (field.args.length === 0) continue;
      const check = (args: Record<string, unknown>): void => {
        for (const arg of field.args) checkValue(args[arg.name], arg.type, arg.name);
      };
      // A subscription's arguments are checked once, when it starts, not on every event.
      if (type === subscriptionType && field.subscribe) {
        field.subscribe = guarded(field.subscribe, check);
      } else {
        field.resolve = guarded(field.resolve ?? defaultFieldResolver, check);
      }
    }
  }
  return schema;
}

function guarded<TSource, TContext>(
  resolve: GraphQLFieldResolver<TSource, TContext>,
  check: (args: Record<string, unknown>) => void,
): GraphQLFieldResolver<TSource, TContext> {
  return (source, args: Record<string, unknown>, context, info) => {
    check(args);
    return resolve(source, args, context, info);
  };
}

function checkValue(value: unknown, type: GraphQLInputType, path: string): void {
  if (value === null || value === undefined) return;
  const nullable = getNullableType(type);
  if (isEnumType(nullable)) return;
  if (isListType(nullable)) {
    if (Array.isArray(value)) {
      value.forEach((item, index) => checkValue(item, nullable.ofType, `${path}[${index}]`));
    }
    return;
  }
  if (isInputObjectType(nullable)) {
    const object = value as Record<string, unknown>;
    for (const field of Object.values(nullable.getFields())) {
      if (field.extensions[checkedPerItem] === true) continue;
      checkValue(object[field.name], field.type, `${path}.${field.name}`);
    }
    return;
  }
  checkScalar(value, path);
}

/** A scalar's coerced value; a JSON scalar's objects and arrays are walked, keys included. */
function checkScalar(value: unknown, path: string): void {
  if (typeof value === 'string') storableText(path, value);
  else if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new ValidationError(path, `${path} must be a finite number.`);
  } else if (value instanceof Date) validInstant(path, value);
  else if (Array.isArray(value)) {
    value.forEach((item, index) => checkScalar(item, `${path}[${index}]`));
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      storableText(`${path} (a key)`, key);
      checkScalar(item, `${path}.${key}`);
    }
  }
}
