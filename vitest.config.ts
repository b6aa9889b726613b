import { defineConfig } from 'vitest/config';
import { routeThroughLocalPgBouncer } from './scripts/localPgBouncer.js';

// Every suite reaches the local stack's Postgres through its PgBouncer, as the app does in Azure
// (README, "PgBouncer"); the fault suite and the bench start private instances with their own.
routeThroughLocalPgBouncer(process.env);

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/host/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/conformance/**/*.test.ts'],
          globalSetup: ['test/support/globalSetup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Suites share one broker and database; running files one at a time keeps timings honest on 2 cores.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'web',
          include: ['test/web/**/*.test.ts'],
          globalSetup: ['test/support/globalSetup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Each file runs its own host and browser: one at a time on 2 cores.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
