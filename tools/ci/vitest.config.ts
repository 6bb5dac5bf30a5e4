import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    // The affected test computes Nx's project graph in a fresh clone: tens of seconds on 2 cores.
    testTimeout: 180_000,
    // The parser imports its JSON schema without an import attribute, which Node refuses: let Vite load it.
    server: { deps: { inline: ['@actions/workflow-parser'] } },
  },
});
