import { defineConfig } from 'vitest/config';

/**
 * The process-level fault suite (`npm run test:faults`): real server, executor and PostgreSQL
 * processes, killed, cut off and restarted on purpose. Each file is one scenario with its own
 * database and processes, so files run in parallel; most of their time is spent waiting on
 * heartbeat windows and outages, not on the CPU.
 */
export default defineConfig({
  resolve: {
    // type-graphql and Apollo must share one copy of graphql (stack.md).
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['tests/faults/**/*.test.ts'],
    globalSetup: ['tests/helpers/global-setup.ts'],
    setupFiles: ['reflect-metadata'],
    pool: 'forks',
    // Every scenario file at once (the longest holds a 60 s partition): the suite takes about
    // as long as its longest file.
    maxWorkers: 6,
    // A scenario is one long test that waits out heartbeat windows and outages.
    testTimeout: 180_000,
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
  },
});
