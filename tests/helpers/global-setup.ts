import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import {
  startEmbeddedPostgres,
  type EmbeddedPostgres,
} from '../../src/database/embedded-postgres.js';
import { openDatabase } from '../../src/database/orm.js';
import { admin, databaseUrlFor } from '../../src/database/scratch-database.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseServerUrl: string;
    templateDatabase: string;
    /** Folder holding this run's compiled build (its `src/main.js` etc.), for process tests. */
    compiledDir: string;
  }
}

const execFileAsync = promisify(execFile);

/**
 * Tests that start real server processes run the compiled program, as `npm start` does; each
 * test run compiles into its own folder so that concurrent runs never share one.
 */
async function compileProgram(): Promise<string> {
  mkdirSync('.build', { recursive: true });
  const outDir = mkdtempSync(path.resolve('.build', 'test-'));
  const tsc = path.resolve('node_modules', 'typescript', 'bin', 'tsc');
  await execFileAsync(process.execPath, [
    tsc,
    '-p',
    'tsconfig.build.json',
    '--outDir',
    outDir,
  ]).catch((error: { stdout?: string }) => {
    // Type errors still emit JavaScript; the typecheck step reports them. Fail only on no output.
    if (!existsSync(path.join(outDir, 'src', 'main.js')))
      throw new Error(`tsc failed: ${error.stdout}`);
  });
  return outDir;
}

/**
 * One PostgreSQL for the whole run (TEST_DATABASE_URL / DATABASE_URL, else an embedded one in a
 * temporary folder), and one migrated template database that each test file clones.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const compiling = compileProgram();
  const external = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
  let embedded: EmbeddedPostgres | undefined;
  let folder: string | undefined;
  if (!external) {
    // Under the system temp folder, which the `postgres` user can enter when we run as root.
    folder = mkdtempSync(path.join(tmpdir(), 'graphcron-test-'));
    chmodSync(folder, 0o755);
    embedded = await startEmbeddedPostgres({ folder });
  }
  const serverUrl = external ?? embedded!.url;
  const templateDatabase = `graphcron_template_${process.pid}`;
  await admin(serverUrl, `DROP DATABASE IF EXISTS ${templateDatabase} WITH (FORCE)`);
  await admin(serverUrl, `CREATE DATABASE ${templateDatabase}`);
  const orm = await openDatabase(databaseUrlFor(serverUrl, templateDatabase));
  await orm.close();

  const compiledDir = await compiling;
  project.provide('compiledDir', compiledDir);
  project.provide('databaseServerUrl', serverUrl);
  project.provide('templateDatabase', templateDatabase);

  return async () => {
    await admin(serverUrl, `DROP DATABASE IF EXISTS ${templateDatabase} WITH (FORCE)`).catch(
      () => undefined,
    );
    await embedded?.stop();
    if (folder) rmSync(folder, { recursive: true, force: true });
    rmSync(compiledDir, { recursive: true, force: true });
  };
}
