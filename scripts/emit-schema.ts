// Writes schema/schema.graphql from the code. CI fails when the checked-in file is stale.
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { printSchemaFile } from '../src/server/print-schema.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
writeFileSync(path.join(root, 'schema', 'schema.graphql'), await printSchemaFile());
console.log('wrote schema/schema.graphql');
