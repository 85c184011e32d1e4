// The test bed's command line: `node libs/testbed/src/cli.ts prepare | start <server>`.
// Node 24 runs this TypeScript source directly by stripping types. Two resolve hooks make the
// workspace's conventions work there: `./x.js` imports fall back to `./x.ts`, and packages
// resolve through their `@understudy/source` export (as in tsconfig and Vitest).
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, nextResolve) {
    const withSources = { ...context, conditions: [...context.conditions, '@understudy/source'] };
    try {
      return nextResolve(specifier, withSources);
    } catch (error) {
      if (!/^\.\.?\//.test(specifier) || !specifier.endsWith('.js')) throw error;
      return nextResolve(`${specifier.slice(0, -3)}.ts`, withSources);
    }
  },
});

const { main } = await import('./commands.js');
process.exitCode = await main(process.argv.slice(2));
