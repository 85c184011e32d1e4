/**
 * Lets Node run a bench's TypeScript directly, resolving as tsc and Vitest do: `./x.js` imports
 * fall back to `./x.ts`, and workspace packages resolve through their `@understudy/source`
 * export. Load it first: `node --conditions=@understudy/source --import
 * @understudy/testbed/source-hooks bench/x.ts` (the condition lets this module itself resolve to
 * its source), or `import '@understudy/testbed/source-hooks'` at the top of the entry point.
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
