import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { defaultDiscoveryPolicy, discoverTasks } from '../src/domain/discovery/discovery.js';
import { hdbscan } from '../src/domain/discovery/hdbscan.js';
import { TaskIndex } from '../src/domain/discovery/online.js';
import { pickRows } from '../src/domain/discovery/vectors.js';
import { generateCorpus } from '../src/testing/corpus/corpus.js';
import { benchTable, embedCalls, joinParts } from './table.js';
import { embedders } from './vector-source.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100000,1000000' },
    repeats: { type: 'string', default: '3' },
    embedder: { type: 'string', default: 'featurizer' },
    dimension: { type: 'string', default: '256' },
    'exact-sizes': { type: 'string', default: '1000,2000,4000' },
    out: { type: 'string' },
  },
});
const dimension = Number(args.dimension);
const repeats = Number(args.repeats);
const sizes = args.sizes
  .split(',')
  .filter((s) => s !== '')
  .map(Number);
const out =
  args.out ??
  new URL(`./dist/speed-${new Date().toISOString().replace(/[:.]/g, '-')}/`, import.meta.url)
    .pathname;
mkdirSync(out, { recursive: true });
const lines: string[] = [];
const say = (line = '') => {
  lines.push(line);
  console.log(line);
};
const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

say('# Clusterer speed');
say();
say(
  `Machine: ${cpus()[0]?.model ?? 'unknown'} × ${String(cpus().length)}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ` +
    `load average at start ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} (machine shared with other work). Medians of ${String(repeats)} runs.`,
);

// Batch discovery at scale, each size in a child process of its own for a clean peak RSS ---------
say();
say('## Batch discovery (two-level, default policy)');
say();
say(
  '| calls | table in memory | build table (once, cached) | discovery median (runs) | peak RSS | tasks | ARI vs truth | unassigned |',
);
say('|---:|---:|---:|---:|---:|---:|---:|---:|');
const batchResults: unknown[] = [];
for (const calls of sizes) {
  const options = { seed: 11, calls, embedder: args.embedder, dimension };
  const built = performance.now();
  const table = await benchTable(options);
  const buildMs = performance.now() - built;
  const tableBytes =
    table.vectors.byteLength +
    table.hasVector.byteLength +
    table.signatureOf.byteLength +
    table.timesMs.byteLength;
  const count = table.truth.length;
  const stdout = execFileSync(
    process.execPath,
    [
      ...process.execArgv,
      new URL('./speed-batch.ts', import.meta.url).pathname,
      JSON.stringify({ ...options, repeats }),
    ],
    { encoding: 'utf8', maxBuffer: 16 * 2 ** 20 },
  );
  const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
    ms: number[];
    maxRssBytes: number;
    tasks: number;
    ari: number;
    unassigned: number;
  };
  batchResults.push({ calls: count, tableBytes, buildMs, ...result });
  say(
    `| ${count.toLocaleString('en')} | ${mib(tableBytes)} | ${(buildMs / 1000).toFixed(0)} s | ` +
      `${(median(result.ms) / 1000).toFixed(1)} s (${result.ms.map((ms) => (ms / 1000).toFixed(1)).join(', ')}) | ` +
      `${mib(result.maxRssBytes)} | ${String(result.tasks)} | ${result.ari.toFixed(3)} | ${(100 * result.unassigned).toFixed(1)}% |`,
  );
}

// Online assignment -------------------------------------------------------------------------------
say();
say('## Online assignment');
say();
const trainSize = sizes[0] ?? 100_000;
const train = await benchTable({ seed: 11, calls: trainSize, embedder: args.embedder, dimension });
const discovery = discoverTasks(train, defaultDiscoveryPolicy);
const ids = discovery.tasks.map((_, t) => `task-${String(t)}`);
const named = (map: ReadonlyMap<string, number>) =>
  new Map([...map].map(([key, task]) => [key, ids[task] as string]));
const tasks = discovery.tasks.map((task, t) => ({
  id: ids[t] as string,
  structure: task.structure,
  centroid: task.centroid,
  threshold: task.threshold,
}));
const makeEmbedder = embedders[args.embedder];
if (makeEmbedder === undefined) throw new Error(`unknown embedder ${args.embedder}`);
const embedder = makeEmbedder(dimension);
const queries = joinParts(
  [(await embedCalls([...generateCorpus({ seed: 12, calls: 20_000 })], embedder, dimension)).part],
  dimension,
);
const onlineRows: { name: string; callsPerSecond: number[] }[] = [];
for (const [name, index] of [
  [
    'as deployed: signature first, content otherwise',
    new TaskIndex(dimension, tasks, named(discovery.signatureTasks), named(discovery.placeTasks)),
  ],
  [
    'every call by content (no signature known)',
    new TaskIndex(dimension, tasks, new Map(), new Map()),
  ],
] as const) {
  const rates: number[] = [];
  let assigned = 0;
  for (let r = 0; r < Math.max(repeats, 5); r++) {
    const started = performance.now();
    assigned = 0;
    for (let call = 0; call < queries.truth.length; call++) {
      const signature = queries.signatures[queries.signatureOf[call] as number];
      if (signature === undefined) continue;
      const vector =
        queries.hasVector[call] === 1
          ? queries.vectors.subarray(call * dimension, (call + 1) * dimension)
          : undefined;
      if (index.assign(signature, vector) !== undefined) assigned += 1;
    }
    rates.push(queries.truth.length / ((performance.now() - started) / 1000));
  }
  onlineRows.push({ name, callsPerSecond: rates });
  say(
    `- ${name}: median ${Math.round(median(rates)).toLocaleString('en')} calls/s over ${String(rates.length)} passes of ` +
      `${queries.truth.length.toLocaleString('en')} calls (${((100 * assigned) / queries.truth.length).toFixed(1)}% assigned), ` +
      `against ${String(tasks.length)} tasks from the ${train.truth.length.toLocaleString('en')}-call batch.`,
  );
}

// Why not exact HDBSCAN on everything -------------------------------------------------------------
say();
say('## Exact HDBSCAN (ours, flat, content only) as n grows');
say();
say('| points | time | pairwise distances held |');
say('|---:|---:|---:|');
const exactRows: { points: number; ms: number }[] = [];
for (const points of args['exact-sizes']
  .split(',')
  .filter((s) => s !== '')
  .map(Number)) {
  const withVectors = [...train.hasVector.keys()].filter((call) => train.hasVector[call] === 1);
  const stride = withVectors.length / points;
  const sample = Array.from(
    { length: points },
    (_, i) => withVectors[Math.floor(i * stride)] as number,
  );
  const started = performance.now();
  hdbscan(pickRows(train.vectors, sample, dimension), dimension, defaultDiscoveryPolicy);
  const ms = performance.now() - started;
  exactRows.push({ points, ms });
  say(
    `| ${points.toLocaleString('en')} | ${(ms / 1000).toFixed(1)} s | ${mib((points * (points - 1) * 4) / 2)} |`,
  );
}
const last = exactRows.at(-1);
if (last !== undefined) {
  const scale = (1_000_000 / last.points) ** 2;
  say();
  say(
    `Quadratic in n: extrapolated to 1,000,000 points, ${((last.ms * scale) / 3_600_000).toFixed(0)} hours and ` +
      `${((1_000_000 * 999_999 * 4) / 2 / 2 ** 40).toFixed(1)} TiB of distances; hence density clustering only inside open-ended signature groups, on samples of at most ${String(defaultDiscoveryPolicy.sampleSize)} calls.`,
  );
}
say();
say(
  `Load average at end: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}.`,
);
writeFileSync(`${out}/report.md`, `${lines.join('\n')}\n`);
writeFileSync(
  `${out}/results.json`,
  JSON.stringify({ batch: batchResults, online: onlineRows, exact: exactRows }, null, 2),
);
console.log(`\n(report and results in ${out})`);
