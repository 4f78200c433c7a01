import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Nothing leaves the machine: off-loopback sends and connects throw (test/setup/loopback-only.mjs).
    setupFiles: ['test/setup/loopback-only.mjs', 'test/setup/vitest.ts']
  }
})
