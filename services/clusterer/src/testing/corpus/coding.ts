/**
 * A coding agent: a tool loop that fixes failing tests (reading files, running tests), and a
 * commit step that writes the commit message for a diff. The commit step is switched off after
 * day 9, so its task stops receiving traffic.
 */
import type { Random } from './random.js';
import type { Exchange, TaskSpec } from './spec.js';

const modules = [
  'billing',
  'auth',
  'cart',
  'search',
  'inventory',
  'notifications',
  'payments',
  'users',
  'reports',
  'scheduler',
  'export',
  'webhooks',
  'pricing',
  'catalog',
];
const functions = [
  'parseAmount',
  'applyDiscount',
  'validateEmail',
  'computeTotals',
  'formatDate',
  'retryRequest',
  'mergeProfiles',
  'buildQuery',
  'renderInvoice',
  'refreshToken',
  'normalizeSku',
  'splitBatch',
];
const errors = [
  (r: Random) =>
    `AssertionError: expected ${String(r.int(0, 99))} to equal ${String(r.int(100, 999))}`,
  () => "TypeError: Cannot read properties of undefined (reading 'id')",
  () => 'Error: Timeout of 5000ms exceeded',
  () => 'ReferenceError: config is not defined',
  () => 'AssertionError: expected [ 1, 2 ] to deeply equal [ 1, 2, 3 ]',
  () => 'SyntaxError: Unexpected token } in JSON at position 42',
];

const path = (r: Random) => `src/${r.pick(modules)}/${r.pick(functions)}.ts`;

function codeLines(random: Random, count: number): string {
  const fn = random.pick(functions);
  const body = Array.from({ length: count }, () =>
    random.pick([
      `  const ${random.pick(['value', 'item', 'result', 'total', 'row'])} = ${random.pick(['input', 'rows', 'options'])}.${random.pick(['map', 'filter', 'reduce', 'find'])}((x) => x.${random.pick(['id', 'amount', 'name', 'price'])});`,
      `  if (!${random.pick(['input', 'user', 'order'])}) throw new Error('${random.pick(['missing input', 'not found', 'invalid state'])}');`,
      `  return ${random.pick(['result', 'total', 'rows.length', 'value ?? null'])};`,
      `  await ${random.pick(['db', 'client', 'queue'])}.${random.pick(['save', 'send', 'fetch', 'flush'])}(${random.pick(['row', 'payload', 'batch'])});`,
      `  // ${random.pick(['TODO: handle currency', 'keeps order stable', 'see issue tracker', 'legacy path'])}`,
    ]),
  );
  return [`export function ${fn}(input: Input): Output {`, ...body, '}'].join('\n');
}

function fixTests(random: Random): Exchange {
  const file = path(random);
  const testFile = file.replace('.ts', '.test.ts');
  const ask = random.pick([
    `The CI is red: ${testFile} fails. Find the bug and fix it.`,
    `Fix the failing test in ${testFile} without changing the test.`,
    `Please make npm test pass again, ${testFile} broke after the last merge.`,
    `Investigate why ${testFile} fails on main and fix the code.`,
  ]);
  const result = random.chance(0.5)
    ? [
        `FAIL ${testFile}`,
        ...Array.from(
          { length: random.int(1, 4) },
          () =>
            `  ✕ ${random.pick(['handles empty input', 'rounds to cents', 'keeps order', 'rejects bad ids', 'retries once'])} (${String(random.int(1, 90))} ms)\n    ${random.pick(errors)(random)}\n      at ${file}:${String(random.int(3, 200))}:${String(random.int(1, 40))}`,
        ),
        `Tests: ${String(random.int(1, 4))} failed, ${String(random.int(5, 120))} passed`,
      ].join('\n')
    : codeLines(random, random.int(3, 25));
  return {
    user: ask,
    toolResult: result,
    output: random.chance(0.5)
      ? { tool: 'read_file', arguments: JSON.stringify({ path: file }) }
      : { tool: 'run_tests', arguments: JSON.stringify({ pattern: testFile }) },
  };
}

function diff(random: Random): Exchange {
  const hunks = Array.from({ length: random.int(1, 6) }, () => {
    const file = path(random);
    const removed = Array.from(
      { length: random.int(0, 6) },
      () => `-${codeLines(random, 1).split('\n')[1] ?? ''}`,
    );
    const added = Array.from(
      { length: random.int(1, 10) },
      () => `+${codeLines(random, 1).split('\n')[1] ?? ''}`,
    );
    return [
      `diff --git a/${file} b/${file}`,
      `--- a/${file}`,
      `+++ b/${file}`,
      `@@ -${String(random.int(1, 300))},${String(removed.length + 3)} +${String(random.int(1, 300))},${String(added.length + 3)} @@`,
      ...removed,
      ...added,
    ].join('\n');
  });
  return {
    user: hunks.join('\n'),
    output: `${random.pick(['fix', 'feat', 'refactor', 'chore'])}(${random.pick(modules)}): ${random.pick(['handle empty input', 'retry failed sends', 'simplify totals', 'validate ids early'])}`,
  };
}

export const codingTasks: readonly TaskSpec[] = [
  {
    task: 'code.fix-tests',
    archetype: 'coding-agent',
    weight: 6,
    exchange: fixTests,
    deployments: [
      {
        service: 'dev-agent',
        agent: 'coder',
        step: 'act',
        model: 'claude-sonnet-4',
        tools: ['read_file', 'edit_file', 'run_tests'],
        format: 'text',
        system: (r) =>
          `You are a careful software engineer working in the repository "acme/${r.pick(modules)}". Use the tools to read code and run tests; make the smallest change that fixes the problem.`,
      },
    ],
  },
  {
    task: 'code.commit-message',
    archetype: 'coding-agent',
    weight: 3,
    days: [0, 9],
    exchange: diff,
    deployments: [
      {
        service: 'dev-agent',
        agent: 'coder',
        step: 'commit',
        model: 'gpt-4o-mini',
        format: 'text',
        system: () =>
          'Write a conventional commit message (type(scope): summary, at most 72 characters) for the staged diff.',
      },
    ],
  },
];
