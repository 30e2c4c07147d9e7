import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // e2e tests each start brokers with worker threads; two cores cannot run many files at once.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
