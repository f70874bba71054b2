import type { EntityManager, FilterQuery } from '@mikro-orm/postgresql';
import { ArgsType, Field, Int, ObjectType, type ClassType } from 'type-graphql';
import { ValidationError } from './app-error.js';

export const maxPageSize = 500;

@ArgsType()
export class PageArgs {
  @Field(() => Int, { defaultValue: 50, description: `How many to return, 1..${maxPageSize}.` })
  first: number = 50;

  @Field(() => String, {
    nullable: true,
    description: '`pageInfo.endCursor` of the previous page.',
  })
  after?: string | null;
}

@ObjectType()
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true, description: 'Pass as `after` to get the next page.' })
  endCursor!: string | null;
}

export interface Page<T> {
  nodes: T[];
  pageInfo: PageInfo;
  totalCount: number;
}

/** Builds `<Name>Connection { nodes, pageInfo, totalCount }` for a node type. */
export function Connection<T extends object>(node: ClassType<T>, name: string): ClassType<Page<T>> {
  @ObjectType(`${name}Connection`, { description: `A page of ${name} in a stable order.` })
  class ConnectionType implements Page<T> {
    @Field(() => [node])
    nodes!: T[];

    @Field(() => PageInfo)
    pageInfo!: PageInfo;

    @Field(() => Int, { description: 'How many match the filter, over all pages.' })
    totalCount!: number;
  }
  return ConnectionType;
}

export function encodeCursor(id: string | number): string {
  return Buffer.from(`id:${id}`).toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const decoded = Buffer.from(cursor, 'base64url').toString();
  const match = /^id:(\d{1,19})$/.exec(decoded);
  if (!match?.[1]) throw new ValidationError('after', 'after is not a cursor this API returned.');
  return match[1];
}

/**
 * Keyset pagination by primary key `id` (ascending, or descending for newest-first lists):
 * stable while rows are added, and each page is one indexed range scan.
 */
export async function paginate<T extends { id: string | number }>(
  em: EntityManager,
  entity: ClassType<T>,
  where: FilterQuery<T>,
  args: PageArgs,
  order: 'asc' | 'desc' = 'asc',
): Promise<Page<T>> {
  if (!Number.isInteger(args.first) || args.first < 1 || args.first > maxPageSize) {
    throw new ValidationError(
      'first',
      `first must be from 1 to ${maxPageSize}; got ${args.first}.`,
    );
  }
  const range = args.after
    ? { id: { [order === 'asc' ? '$gt' : '$lt']: decodeCursor(args.after) } }
    : {};
  const filter = { $and: [where, range] } as FilterQuery<T>;
  const [rows, totalCount] = await Promise.all([
    em.find(entity, filter, {
      orderBy: { id: order } as never,
      limit: args.first + 1,
    }),
    em.count(entity, where),
  ]);
  const nodes = rows.slice(0, args.first);
  const last = nodes.at(-1);
  return {
    nodes,
    totalCount,
    pageInfo: {
      hasNextPage: rows.length > args.first,
      endCursor: last ? encodeCursor(last.id) : null,
    },
  };
}
