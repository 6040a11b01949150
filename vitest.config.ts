import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // DynamoDB Local (Java) for the store contract suite, started once per run.
    globalSetup: ['test/setup/dynamodb-local.ts'],
    setupFiles: ['test/setup/deterministic.ts'],
    // Loopback servers and SQLite files are per test file; two workers match CI's two cores.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
