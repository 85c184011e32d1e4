import { defaultServerConditions } from 'vite';
import { defineProject, type ViteUserConfig } from 'vitest/config';

/** Workspace packages resolve to their TypeScript sources in tests (see tsconfig customConditions). */
const conditions = ['@understudy/source', ...defaultServerConditions];

export const resolveSources: ViteUserConfig = {
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
};

/** Unit tests: beside the code, no network peers; integration tests (*.int.test.ts) run from test/. */
export function unitTestConfig(): ViteUserConfig {
  return defineProject({
    ...resolveSources,
    test: {
      include: ['src/**/*.test.ts'],
      exclude: ['src/**/*.int.test.ts'],
      environment: 'node',
      testTimeout: 20_000,
    },
  });
}
