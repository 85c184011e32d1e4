import { relative, resolve } from 'node:path';
import { ErrorCode, UnderstudyError } from '@understudy/errors';

export interface BundleOptions {
  /** The service's package folder (services/<name>); entries are relative to it. */
  readonly root: string;
  /** Output name (written as `<name>.mjs`) → entry module, e.g. `{ registry: 'src/main.ts' }`. */
  readonly entries: Readonly<Record<string, string>>;
  /**
   * Where the bundles go; emptied first. It must lie inside `root`: the bundle leaves npm
   * packages to node_modules, which Node finds by walking up from the bundle's folder.
   */
  readonly outDir: string;
}

/**
 * Builds a service from its sources into ES modules that `node` runs as a process, as in its
 * image: Node's type stripping cannot (TypeScript enums in the contracts, Nest's decorators and
 * their metadata), and the libraries' dist/ may lag their sources. The workspace libraries are
 * bundled in from their sources (`@understudy/source`), npm packages stay in node_modules, and
 * decorators compile as tsc compiles them (from the package's tsconfig). Writes source maps
 * beside the bundles and returns `outDir`.
 */
export async function bundleService(options: BundleOptions): Promise<string> {
  const root = resolve(options.root);
  const outDir = resolve(options.outDir);
  const below = relative(root, outDir);
  if (below === '' || below.startsWith('..')) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      `the bundle's folder ${outDir} must lie inside ${root}, where node_modules can be found`,
    );
  }
  // Loaded here, not with the test bed: most of its users never bundle.
  const { build } = await import('vite');
  const conditions = ['@understudy/source', 'node', 'import', 'default'];
  await build({
    configFile: false,
    root,
    logLevel: 'warn',
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: ['node', 'import', 'default'] } },
    build: {
      ssr: true,
      outDir,
      emptyOutDir: true,
      sourcemap: true,
      minify: false,
      target: 'node24',
      rolldownOptions: {
        input: { ...options.entries },
        output: { entryFileNames: '[name].mjs', chunkFileNames: '[name]-[hash].mjs' },
      },
    },
  });
  return outDir;
}
