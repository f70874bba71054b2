// Writes schema/schema.graphql from the code. CI fails when the checked-in file is stale.
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { printSchemaFile } from '../src/server/print-schema.js';

// npm runs scripts from the package root.
const root = process.cwd();
writeFileSync(path.join(root, 'schema', 'schema.graphql'), await printSchemaFile());
console.log('wrote schema/schema.graphql');
