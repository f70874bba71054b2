import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/database/orm.js';
import { printSchemaFile } from '../../src/server/print-schema.js';
import { createTestDatabase } from '../helpers/test-database.js';

describe('checked-in artefacts match the code', () => {
  it('schema/schema.graphql is what the code emits', async () => {
    expect(readFileSync('schema/schema.graphql', 'utf8')).toBe(await printSchemaFile());
  });

  it('the migrations build exactly the schema the entities describe', async () => {
    const database = await createTestDatabase();
    const orm = await openDatabase(database.url);
    try {
      expect(await orm.schema.getUpdateSchemaSQL({ wrap: false })).toBe('');
    } finally {
      await orm.close();
      await database.drop();
    }
  });
});
