// Contract checks for CI: buf lint, buf breaking against main (or the parent commit on main),
// and that regenerating the TypeScript changes nothing.
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const proto = `${root}proto`;
const generated = 'libs/contracts/src/gen';

function run(command, args, cwd = root) {
  const result = spawnSync(command, args, { cwd, stdio: 'inherit' });
  if (result.error) console.error(`cannot run ${command}: ${result.error.message}`);
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function git(...args) {
  return spawnSync('git', args, { cwd: root, encoding: 'utf8' });
}

function breakingBase() {
  const branch = git('rev-parse', '--abbrev-ref', 'HEAD').stdout.trim();
  const candidates = branch === 'main' ? ['HEAD~1'] : ['main', 'origin/main'];
  for (const ref of candidates) {
    if (git('rev-parse', '--verify', '--quiet', `${ref}^{commit}`).status !== 0) continue;
    if (git('cat-file', '-e', `${ref}:proto/buf.yaml`).status !== 0) continue;
    return ref;
  }
  return undefined;
}

const check = process.argv[2];
switch (check) {
  case 'lint':
    run('buf', ['lint'], proto);
    break;
  case 'breaking': {
    const base = breakingBase();
    if (base === undefined) {
      console.log('no earlier proto/ module to compare with; nothing can break yet');
      break;
    }
    console.log(`comparing proto/ with ${base}`);
    run('buf', ['breaking', '--against', `${root}.git#ref=${base},subdir=proto`], proto);
    break;
  }
  case 'generated': {
    run('buf', ['generate'], proto);
    const status = execFileSync('git', ['status', '--porcelain', '--', generated], {
      cwd: root,
      encoding: 'utf8',
    });
    if (status.trim() !== '') {
      console.error(
        `regenerating changed ${generated}; run \`npm run proto:generate\` and commit:\n${status}`,
      );
      process.exit(1);
    }
    console.log(`${generated} is up to date`);
    break;
  }
  default:
    console.error('usage: proto-check.mjs lint|breaking|generated');
    process.exit(2);
}
