import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The machines are 2-core: run files in a few forks rather than many threads.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
