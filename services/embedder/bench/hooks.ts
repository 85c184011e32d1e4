/**
 * Lets Node run the benches' TypeScript directly, resolving as tsc and Vitest do: `./x.js`
 * imports fall back to `./x.ts`, and workspace packages resolve to their sources
 * (`@understudy/source`). Run the benches with
 * `node --experimental-transform-types --import ./bench/hooks.ts` (the sources use parameter
 * properties and enums, which plain type stripping refuses).
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
