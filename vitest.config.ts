import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // type-graphql and Apollo must share one copy of graphql (stack.md).
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['tests/**/*.test.ts'],
    // The fault suite (npm run test:faults) has its own config.
    exclude: ['tests/faults/**', 'node_modules/**'],
    globalSetup: ['tests/helpers/global-setup.ts'],
    setupFiles: ['reflect-metadata'],
    pool: 'forks',
    // Most tests wait on PostgreSQL, sockets and child processes, not the CPU: run more files
    // than cores (each has its own database).
    maxWorkers: 4,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
  },
});
