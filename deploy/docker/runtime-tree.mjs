// Copies what `node services/<service>/dist/main.js` can load into an image's runtime tree: the
// service's and its workspace libraries' manifests and dist/, and every npm package reached by
// following production dependencies the way Node resolves them. npm cannot produce this tree:
// `npm prune --omit=dev` keeps every workspace (and so the test bed's PostgreSQL binaries).
// Usage, from the repository root after `npm ci` and the build: node runtime-tree.mjs <service> <out>
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  symlinkSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';

const [service, out] = process.argv.slice(2);
if (service === undefined || out === undefined) {
  console.error('usage: node runtime-tree.mjs <service> <out>');
  process.exit(2);
}
const root = realpathSync(process.cwd());
const visited = new Set();
const links = new Set();

/** Where Node finds package `name` from `dir`: the nearest node_modules/<name> up to the root. */
function locate(name, dir) {
  for (let current = dir; ; current = dirname(current)) {
    const candidate = join(current, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (current === root) return undefined;
  }
}

/** A workspace package: only its manifest and compiled output; sources stay behind. */
function copyWorkspace(dir) {
  const target = join(out, relative(root, dir));
  mkdirSync(target, { recursive: true });
  cpSync(join(dir, 'package.json'), join(target, 'package.json'));
  if (!existsSync(join(dir, 'dist'))) throw new Error(`${dir} is not built (no dist/)`);
  cpSync(join(dir, 'dist'), join(target, 'dist'), { recursive: true });
}

function copyLink(link) {
  const target = join(out, relative(root, link));
  if (links.has(target)) return;
  links.add(target);
  mkdirSync(dirname(target), { recursive: true });
  symlinkSync(readlinkSync(link), target);
}

function visit(dir) {
  const real = realpathSync(dir);
  if (visited.has(real)) return;
  visited.add(real);
  const manifest = JSON.parse(readFileSync(join(real, 'package.json'), 'utf8'));
  const inNodeModules = relative(root, real).split('/').includes('node_modules');
  if (inNodeModules) {
    cpSync(real, join(out, relative(root, real)), { recursive: true });
  } else {
    copyWorkspace(real);
  }
  const optional = { ...manifest.optionalDependencies, ...manifest.peerDependencies };
  for (const name of Object.keys({ ...manifest.dependencies, ...optional })) {
    const found = locate(name, real);
    if (found === undefined) {
      if (name in optional) continue;
      throw new Error(`${manifest.name} needs ${name}, which is not installed`);
    }
    // A workspace is reached through its node_modules link, which the tree needs as well.
    if (realpathSync(found) !== found) copyLink(found);
    visit(found);
  }
}

visit(join(root, 'services', service));
console.log(`runtime tree of ${service}: ${visited.size} packages in ${out}`);
