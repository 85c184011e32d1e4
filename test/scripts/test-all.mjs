// The one command behind `npm test`: contract checks, lint, typecheck, unit tests per project,
// then integration tests against the real test bed; ends with a single `N passed, N failed` line.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const reports = join(root, '.state', 'reports');
const env = { ...process.env, UNDERSTUDY_REPORT_DIR: reports };

const steps = [
  ['protobuf lint', 'node', ['test/scripts/proto-check.mjs', 'lint']],
  ['protobuf breaking changes', 'node', ['test/scripts/proto-check.mjs', 'breaking']],
  ['generated code is current', 'node', ['test/scripts/proto-check.mjs', 'generated']],
  ['formatting', 'prettier', ['--check', '.']],
  [
    'test bed artifacts',
    'npm',
    ['run', '--silent', '-w', '@understudy/testbed', 'testbed:prepare'],
  ],
  [
    'lint, typecheck, unit tests',
    'nx',
    ['run-many', '-t', 'lint', 'typecheck', 'test', '--skip-nx-cache', '--outputStyle=static'],
  ],
  [
    'integration tests (real Kafka, MinIO, PostgreSQL)',
    'vitest',
    ['run', '--config', 'test/vitest.config.ts'],
  ],
];

rmSync(reports, { recursive: true, force: true });
mkdirSync(reports, { recursive: true });

const failedSteps = [];
for (const [title, command, args] of steps) {
  const started = Date.now();
  console.log(`\n=== ${title}`);
  const result = spawnSync(command, args, { cwd: root, env, stdio: 'inherit' });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const ok = result.status === 0;
  console.log(`=== ${title}: ${ok ? 'ok' : 'FAILED'} in ${seconds}s`);
  if (!ok) failedSteps.push(title);
}

// Vitest writes one JSON report per run into UNDERSTUDY_REPORT_DIR (see vitest.shared.ts).
const totals = { passed: 0, failed: 0, skipped: 0 };
for (const file of existsSync(reports) ? readdirSync(reports) : []) {
  if (!file.endsWith('.json')) continue;
  const report = JSON.parse(readFileSync(join(reports, file), 'utf8'));
  totals.passed += report.numPassedTests;
  totals.failed += report.numFailedTests;
  totals.skipped += report.numPendingTests + report.numTodoTests;
}
if (failedSteps.length > 0) console.log(`\nfailed steps: ${failedSteps.join(', ')}`);
console.log(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(failedSteps.length > 0 || totals.failed > 0 ? 1 : 0);
