/**
 * Lets Node run the benches' TypeScript directly (type stripping), resolving relative imports as
 * tsc and Vitest do: `./x.js` falls back to `./x.ts`. Workspace libraries load from their built
 * `dist/` (their sources use TypeScript enums, which type stripping cannot run). Imported first
 * by each bench entry point.
 */
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, next) {
    try {
      return next(specifier, context);
    } catch (error) {
      if (!/^(?:\.|\/|file:)/.test(specifier) || !specifier.endsWith('.js')) throw error;
      return next(`${specifier.slice(0, -3)}.ts`, context);
    }
  },
});
