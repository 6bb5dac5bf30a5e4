import { defineConfig } from 'vitest/config';

// Each file kills processes and stops servers of its own; the global setup gathers their rows into one fault table.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    globalSetup: ['src/fault-table.global.ts'],
  },
});
