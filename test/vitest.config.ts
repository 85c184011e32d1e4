import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { reporters, resolveSources } from '../vitest.shared.ts';

/**
 * Integration tests of every library and service, and the end-to-end tests, in one run against
 * one test bed: real Kafka, MinIO and PostgreSQL started once by global-setup.ts.
 */
export default defineConfig({
  ...resolveSources,
  // Vitest loads globalSetup in its own `__vitest__` environment, which does not inherit
  // `resolve`: without this, workspace packages would not resolve to their sources there.
  environments: { __vitest__: { resolve: resolveSources.resolve ?? {} } },
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: [
      'libs/*/src/**/*.int.test.ts',
      'services/*/src/**/*.int.test.ts',
      'deploy/*/src/**/*.int.test.ts',
      'test/e2e/**/*.test.ts',
      'test/helm/**/*.test.ts',
    ],
    environment: 'node',
    globalSetup: [fileURLToPath(new URL('global-setup.ts', import.meta.url))],
    // Real brokers rebalance, restart and time out on a loaded 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
    reporters: reporters('integration'),
  },
});
