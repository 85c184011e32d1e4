import { basename, join } from 'node:path';
import { defaultServerConditions } from 'vite';
import { defineConfig, type TestUserConfig, type ViteUserConfig } from 'vitest/config';

/** Workspace packages resolve to their TypeScript sources in tests (see tsconfig customConditions). */
const conditions = ['@understudy/source', ...defaultServerConditions];

export const resolveSources: ViteUserConfig = {
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
};

/**
 * `npm test` sets UNDERSTUDY_REPORT_DIR so each Vitest run also writes a JSON report there, from
 * which the root script prints one `N passed, N failed` line for the whole repository.
 */
export function reporters(name: string): NonNullable<TestUserConfig['reporters']> {
  const dir = process.env['UNDERSTUDY_REPORT_DIR'];
  if (dir === undefined || dir === '') return ['default'];
  return ['default', ['json', { outputFile: join(dir, `${name}.json`) }]];
}

/** Unit tests: beside the code, no network peers; integration tests (*.int.test.ts) run from test/. */
export function unitTestConfig(): ViteUserConfig {
  return defineConfig({
    ...resolveSources,
    test: {
      include: ['src/**/*.test.ts'],
      exclude: ['src/**/*.int.test.ts'],
      environment: 'node',
      testTimeout: 20_000,
      reporters: reporters(`unit-${basename(process.cwd())}`),
    },
  });
}
