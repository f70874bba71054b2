import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { ormConfig } from '../mikro-orm.config.js';

/** Connects, and brings the schema up to date with the checked-in migrations. */
export async function openDatabase(
  url: string,
  overrides: Partial<Options> = {},
): Promise<MikroORM> {
  const orm = await MikroORM.init(ormConfig(url, overrides));
  await orm.migrator.up();
  return orm;
}
