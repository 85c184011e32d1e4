import js from '@eslint/js';
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

/**
 * Services use libs and contracts, never each other; contracts depend on nothing; apps (the
 * embedded platform) assemble services.
 */
const moduleBoundaries = (codeMayUse) => ({
  enforceBuildableLibDependency: false,
  depConstraints: [
    { sourceTag: 'type:app', onlyDependOnLibsWithTags: [...codeMayUse, 'type:service'] },
    { sourceTag: 'type:service', onlyDependOnLibsWithTags: codeMayUse },
    { sourceTag: 'type:lib', onlyDependOnLibsWithTags: codeMayUse },
    { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: [] },
    // End-to-end tests assemble services, as the embedded app does.
    {
      sourceTag: 'type:testing',
      onlyDependOnLibsWithTags: [...codeMayUse, 'type:service', 'type:testing'],
    },
  ],
});

export default tseslint.config(
  {
    // Generated code is fenced off: it is checked by regeneration in CI, not by lint.
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '**/.nx/**',
      'libs/contracts/src/gen/**',
      '**/*.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': ['error', moduleBoundaries(['type:lib', 'type:contracts'])],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // Nest declares its option bags as classes; object literals for them are the documented use.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      // NestJS modules and DI tokens are classes without members by design.
      '@typescript-eslint/no-extraneous-class': ['error', { allowWithDecorator: true }],
    },
  },
  {
    // Project configs share the root's test settings by relative import.
    files: ['**/vitest.config.ts'],
    rules: { '@nx/enforce-module-boundaries': 'off' },
  },
  {
    // Integration tests and benchmarks, and only they, start real servers through the test bed:
    // themselves, or through their helpers, named *.int.ts, which nothing else may import.
    files: ['**/*.int.test.ts', '**/*.int.ts', '**/bench/**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        moduleBoundaries(['type:lib', 'type:contracts', 'type:testing']),
      ],
    },
  },
  {
    files: ['**/*.ts'],
    ignores: ['**/*.int.test.ts', '**/*.int.ts', '**/bench/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '\\.int(\\.[jt]s)?$',
              message: 'Integration-test helpers are for integration tests and benchmarks only.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.test.ts', '**/vitest.config.ts', 'vitest.shared.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
