/**
 * Lets Node run the bench's TypeScript directly (type stripping), resolving as tsc and Vitest
 * do: `./x.js` imports fall back to `./x.ts`, and workspace packages resolve through their
 * `@understudy/source` export. Imported first by bench/ingest.ts and preloaded (`--import`) into
 * its load clients.
 */
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, next) {
    const withSources = { ...context, conditions: [...context.conditions, '@understudy/source'] };
    try {
      return next(specifier, withSources);
    } catch (error) {
      if (!/^(?:\.|\/|file:)/.test(specifier) || !specifier.endsWith('.js')) throw error;
      return next(`${specifier.slice(0, -3)}.ts`, withSources);
    }
  },
});
