import {
  ReferenceKind,
  type EntityDictionary,
  type EntityManager,
  type EntityProperty,
} from '@mikro-orm/postgresql';

type EntityClass<Entity> = abstract new (...args: never[]) => Entity;

interface Column {
  property: string;
  column: string;
  /** How the value read is made the property's; `em` is the caller's (for references). */
  convert: (value: unknown, em: EntityManager) => unknown;
  /** Converted when first read, not when the entity is made (see below). */
  isLazy: boolean;
}

/** Per entity class: the same for every caller, so it holds nothing of one caller's. */
const layouts = new WeakMap<object, Column[]>();

/**
 * Entities made straight from the rows of a raw statement (`select *` or `returning *` of their
 * table), that `em` does not track: each property gets its column's value as the ORM would
 * convert it (timestamps, which its connections read as strings, become Dates; custom types
 * convert theirs), and a many-to-one gets a reference.
 *
 * For runs a mutation creates and returns, never changed and flushed: `em.map` (the hydrator,
 * the identity map, a change-tracking snapshot) cost ~0.2 ms a run, a third of `runTask`'s
 * server time. A test holds the two equal for every property.
 */
export function entitiesFromRows<Entity extends object>(
  em: EntityManager,
  entityClass: EntityClass<Entity>,
  rows: readonly EntityDictionary<Entity>[],
): Entity[] {
  const columns = layoutOf(em, entityClass);
  return rows.map((row) => {
    const values = row as Record<string, unknown>;
    // Library boundary: an instance of the entity class without its constructor, as MikroORM
    // makes them; every property is set below.
    const entity = Object.create(entityClass.prototype as object) as Record<string, unknown>;
    for (const { property, column, convert, isLazy } of columns) {
      const value = values[column];
      if (value === null || value === undefined) entity[property] = value;
      else if (isLazy) defineOnFirstRead(entity, property, () => convert(value, em));
      else entity[property] = convert(value, em);
    }
    return entity as Entity;
  });
}

/**
 * A reference made by `em.getReference` on first read. Making it registers an entity in the
 * caller's identity map, ~0.17 ms of server CPU per `runTask` call (4% of the server at 300
 * calls a second), for a field that a mutation answering `{ id }` never reads.
 */
function defineOnFirstRead(
  entity: Record<string, unknown>,
  property: string,
  make: () => unknown,
): void {
  const settle = (value: unknown): void => {
    Object.defineProperty(entity, property, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  };
  Object.defineProperty(entity, property, {
    enumerable: true,
    configurable: true,
    get() {
      const value = make();
      settle(value);
      return value;
    },
    set: settle,
  });
}

function layoutOf(em: EntityManager, entityClass: EntityClass<object>): Column[] {
  const known = layouts.get(entityClass);
  if (known) return known;
  const meta = em.getMetadata().get(entityClass);
  const platform = em.getPlatform();
  const columns = meta.props.flatMap((prop: EntityProperty): Column[] => {
    if (prop.persist === false || prop.formula) return [];
    const column = prop.fieldNames[0]!;
    const { customType } = prop;
    if (prop.kind === ReferenceKind.SCALAR) {
      const convert =
        prop.runtimeType === 'Date'
          ? (value: unknown) =>
              value instanceof Date ? value : platform.parseDate(value as string)
          : customType
            ? (value: unknown) => customType.convertToJSValue(value, platform)
            : (value: unknown) => value;
      return [{ property: prop.name, column, convert, isLazy: false }];
    }
    if (prop.kind === ReferenceKind.MANY_TO_ONE && prop.fieldNames.length === 1) {
      const target = prop.targetMeta!.class;
      // In the identity map of the caller's context (a request's), not of the first caller's.
      const convert = (id: unknown, callerEm: EntityManager) => callerEm.getReference(target, id);
      return [{ property: prop.name, column, convert, isLazy: true }];
    }
    throw new Error(`${meta.className}.${prop.name}: ${prop.kind} is not read from a row`);
  });
  layouts.set(entityClass, columns);
  return columns;
}
