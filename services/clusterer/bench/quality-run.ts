import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pythonEnv } from '@understudy/testbed';
import {
  defaultDiscoveryPolicy,
  discoverTasks,
  type Discovery,
  type DiscoveryPolicy,
} from '../src/domain/discovery/discovery.js';
import { termsOf } from '@understudy/text';
import { hdbscan } from '../src/domain/discovery/hdbscan.js';
import {
  callsPerDay,
  distinctiveTerms,
  representatives,
  taskLabel,
} from '../src/domain/discovery/labels.js';
import { isOpenEnded } from '../src/domain/discovery/structure.js';
import { pickRows } from '../src/domain/discovery/vectors.js';
import { corpusTasks, generateCorpus } from '../src/testing/corpus/corpus.js';
import { agreement, type Agreement } from '../src/testing/metrics.js';
import { replay } from './stability.js';
import { embedCalls, joinParts, type BenchTable } from './table.js';
import { embedders } from './vector-source.js';

const { values: args } = parseArgs({
  options: {
    seed: { type: 'string', default: '7' },
    calls: { type: 'string', default: '8000' },
    embedder: { type: 'string', default: 'featurizer' },
    dimension: { type: 'string', default: '256' },
    out: { type: 'string' },
    'skip-sklearn': { type: 'boolean', default: false },
  },
});
const seed = Number(args.seed);
const dimension = Number(args.dimension);
const out =
  args.out ??
  new URL(`./dist/quality-${new Date().toISOString().replace(/[:.]/g, '-')}/`, import.meta.url)
    .pathname;
mkdirSync(out, { recursive: true });
const policy: DiscoveryPolicy = defaultDiscoveryPolicy;
const lines: string[] = [];
const say = (line = '') => {
  lines.push(line);
  console.log(line);
};
const fixed = (value: number | undefined, digits = 3) =>
  value === undefined ? '–' : value.toFixed(digits);
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const loadAtStart = loadavg();

// Corpus and vectors ----------------------------------------------------------------------------
const startMs = Date.UTC(2026, 10, 2);
const corpus = [...generateCorpus({ seed, calls: Number(args.calls), startMs })];
const makeEmbedder = embedders[args.embedder];
if (makeEmbedder === undefined) throw new Error(`unknown embedder ${args.embedder}`);
const embedder = makeEmbedder(dimension);
let started = performance.now();
const { part, texts } = await embedCalls(corpus, embedder, dimension);
const embedMs = performance.now() - started;
const table: BenchTable = joinParts([part], dimension);
const callIds = corpus.map((call) => call.captured.call?.callId ?? '');
const truth = table.truth;
const vectorCalls = [...table.hasVector.keys()].filter((call) => table.hasVector[call] === 1);

say(`# Clusterer quality: corpus seed ${String(seed)}, ${String(corpus.length)} calls`);
say();
say(
  `Vectors: ${embedder.model} (${String(vectorCalls.length)} calls with content, ` +
    `${String(table.signatures.length)} signatures), embedded in ${seconds(embedMs)}. ` +
    `Ground truth: ${String(new Set(truth).size)} tasks in ${String(new Set(corpus.map((c) => c.archetype)).size)} agent archetypes.`,
);
say(
  `Machine: ${cpus()[0]?.model ?? 'unknown'} × ${String(cpus().length)}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
    `Node ${process.version}; load average at start ${loadAtStart.map((l) => l.toFixed(1)).join(' ')} (shared machine).`,
);

// Batch discovery and ablations -------------------------------------------------------------------
const runs: { name: string; discovery: Discovery; ms: number }[] = [];
for (const [name, split] of [
  ['two-level (design: split open-ended signatures)', 'open-ended'],
  ['ablation: split every signature by content', 'all'],
  ['ablation: never split a signature', 'none'],
] as const) {
  started = performance.now();
  const discovery = discoverTasks(table, { ...policy, split });
  runs.push({ name, discovery, ms: performance.now() - started });
}
const design = (runs[0] as (typeof runs)[number]).discovery;

started = performance.now();
const flat = hdbscan(pickRows(table.vectors, vectorCalls, dimension), dimension, {
  minClusterSize: policy.minClusterSize,
  minSamples: policy.minSamples,
});
const flatMs = performance.now() - started;

const labellings: Record<string, number[]> = {};
const subsets: Record<string, number[]> = {};
const rows: { name: string; scores: Agreement; tasks: number; unassigned: number; ms: number }[] =
  [];
for (const { name, discovery, ms } of runs) {
  labellings[name] = Array.from(discovery.assignment);
  rows.push({
    name,
    scores: agreement(truth, Array.from(discovery.assignment)),
    tasks: discovery.tasks.length,
    unassigned: discovery.assignment.filter((task) => task < 0).length / truth.length,
    ms,
  });
}
const flatName = 'flat HDBSCAN, content only (ours)';
labellings[flatName] = Array.from(flat.labels);
subsets[flatName] = vectorCalls;
rows.push({
  name: flatName,
  scores: agreement(
    vectorCalls.map((call) => truth[call] as string),
    Array.from(flat.labels),
  ),
  tasks: flat.clusterCount,
  unassigned: flat.labels.filter((label) => label < 0).length / vectorCalls.length,
  ms: flatMs,
});
const assignedOnly = [...design.assignment.keys()].filter(
  (call) => (design.assignment[call] as number) >= 0,
);
const assignedScores = agreement(
  assignedOnly.map((call) => truth[call] as string),
  assignedOnly.map((call) => design.assignment[call] as number),
);

// Open-ended groups, clustered alone, for the implementation check against scikit-learn.
const groups = table.signatures.flatMap((signature, g) => {
  const members = vectorCalls.filter((call) => table.signatureOf[call] === g);
  if (!isOpenEnded(signature) || members.length < 2 * policy.minClusterSize) return [];
  const result = hdbscan(pickRows(table.vectors, members, dimension), dimension, policy);
  return [
    {
      name: `${signature.agentName} (${signature.digest.slice(0, 8)})`,
      indices: members,
      ours: Array.from(result.labels),
    },
  ];
});

// Online assignment: index from the batch over days 0–9, assigning days 10–13 ------------------
const replayOptions = { startMs, firstDay: 2, lastDay: 13, windowDays: 7, retireAfterDays: 2 };
const stability = replay(table, callIds, policy, replayOptions);

// scikit-learn ------------------------------------------------------------------------------------
interface SklearnResult {
  sklearn: string;
  flat: {
    seconds: number;
    clusters: number;
    noise: number;
    agreementWithOurs: number;
    identicalPartition: boolean;
  };
  scores: Record<string, Agreement>;
  groups: { name: string; points: number; seconds: number; agreementWithOurs: number }[];
}
let sklearn: SklearnResult | undefined;
if (!args['skip-sklearn']) {
  writeFileSync(`${out}/vectors.f32`, table.vectors);
  writeFileSync(
    `${out}/labels.json`,
    JSON.stringify({
      dimension,
      truth,
      hdbscan: { minClusterSize: policy.minClusterSize, minSamples: policy.minSamples },
      flat: { indices: vectorCalls, ours: Array.from(flat.labels) },
      labellings,
      subsets,
      groups,
    }),
  );
  const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
  const venv = await pythonEnv(
    {
      name: 'clusterer-quality',
      lockFile: here('./python/requirements.lock'),
      buildTime: 'about 10 s, 60 MB from PyPI',
    },
    (message) => {
      console.error(message);
    },
  );
  const stdout = execFileSync(venv.python, [here('./python/compare.py'), out], {
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
  });
  sklearn = JSON.parse(stdout) as SklearnResult;
}

// Report ------------------------------------------------------------------------------------------
say();
say('## Discovered tasks against the ground truth');
say();
say(
  "Unassigned calls count as one more cluster (scikit-learn's convention for noise). V-measure equals NMI (arithmetic mean) by definition.",
);
say();
say('| method | tasks | unassigned | ARI | NMI | V-measure | homogeneity | completeness | time |');
say('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const row of rows) {
  const s = row.scores;
  say(
    `| ${row.name} | ${String(row.tasks)} | ${(100 * row.unassigned).toFixed(1)}% | ${fixed(s.ari)} | ${fixed(s.nmi)} | ` +
      `${fixed(s.vMeasure)} | ${fixed(s.homogeneity)} | ${fixed(s.completeness)} | ${seconds(row.ms)} |`,
  );
}
if (sklearn !== undefined) {
  const s = sklearn.scores['flat HDBSCAN (scikit-learn)'];
  say(
    `| flat HDBSCAN, content only (scikit-learn ${sklearn.sklearn}) | ${String(sklearn.flat.clusters)} | ` +
      `${((100 * sklearn.flat.noise) / vectorCalls.length).toFixed(1)}% | ${fixed(s?.ari)} | ${fixed(s?.nmi)} | ` +
      `${fixed(s?.vMeasure)} | ${fixed(s?.homogeneity)} | ${fixed(s?.completeness)} | ${sklearn.flat.seconds.toFixed(2)} s |`,
  );
}
say();
say(
  `Design, assigned calls only (${String(assignedOnly.length)} of ${String(truth.length)}): ARI ${fixed(assignedScores.ari)}, ` +
    `NMI ${fixed(assignedScores.nmi)}. Flat runs: HDBSCAN min_cluster_size ${String(policy.minClusterSize)}, min_samples ${String(policy.minSamples)}, Euclidean on unit vectors.`,
);
if (sklearn !== undefined) {
  let worst = 0;
  for (const row of rows) {
    const theirs = sklearn.scores[row.name];
    if (theirs === undefined) continue;
    for (const key of ['ari', 'nmi', 'homogeneity', 'completeness', 'vMeasure'] as const) {
      worst = Math.max(worst, Math.abs(theirs[key] - row.scores[key]));
    }
  }
  say();
  say(
    `Cross-checks with scikit-learn on the same vectors: our metrics differ from sklearn.metrics by at most ${worst.toExponential(1)}; ` +
      `our flat HDBSCAN against sklearn.cluster.HDBSCAN: ARI ${sklearn.flat.agreementWithOurs.toFixed(4)}` +
      `${sklearn.flat.identicalPartition ? ' (identical partition)' : ''}; per open-ended signature group: ` +
      sklearn.groups
        .map((g) => `${g.name}, ${String(g.points)} calls: ARI ${g.agreementWithOurs.toFixed(4)}`)
        .join('; ') +
      '.',
  );
}

say();
say('## Ground-truth tasks and where they went (design)');
say();
say("| true task | calls | main discovered task | share of calls there | that task's purity |");
say('|---|---:|---:|---:|---:|');
const taskSizes = design.tasks.map((task) => task.members.length);
for (const spec of corpusTasks) {
  const calls = [...truth.keys()].filter((call) => truth[call] === spec.task);
  const votes = new Map<number, number>();
  for (const call of calls) {
    const task = design.assignment[call] as number;
    votes.set(task, (votes.get(task) ?? 0) + 1);
  }
  const [main, count] = [...votes].sort((a, b) => b[1] - a[1])[0] ?? [-1, 0];
  const purity = main < 0 ? undefined : count / (taskSizes[main] as number);
  say(
    `| ${spec.task} | ${String(calls.length)} | ${main < 0 ? 'unassigned' : `#${String(main)}`} | ` +
      `${((100 * count) / calls.length).toFixed(1)}% | ${purity === undefined ? '–' : `${(100 * purity).toFixed(1)}%`} |`,
  );
}

say();
say('## Labels (c-TF-IDF keywords, representative calls, size, rate)');
say();
say('| task | label | size | calls/day (last 7 days) | most typical call |');
say('|---|---|---:|---:|---|');
const endMs = startMs + 14 * 86_400_000;
const termLists = distinctiveTerms(
  design.tasks.map((task) => Array.from(task.members, (call) => termsOf(texts[call] ?? ''))),
);
design.tasks.forEach((task, t) => {
  // Named after the signature most of its calls carry.
  const dominant = task.signatures[0]?.digest;
  const signature = table.signatures.find((candidate) => candidate.digest === dominant);
  const typical =
    task.centroid === undefined
      ? []
      : representatives(
          table.vectors,
          dimension,
          task.members.filter((call) => table.hasVector[call] === 1),
          task.centroid,
          (call) => texts[call] ?? '',
          1,
        );
  const example = (texts[typical[0] ?? -1] ?? '(no content)')
    .replace(/\s+/g, ' ')
    .replaceAll('|', '\\|')
    .slice(0, 70);
  say(
    `| #${String(t)} | ${taskLabel(signature ?? { agentName: '', stepName: '' }, termLists[t] ?? [])} | ${String(task.members.length)} | ` +
      `${callsPerDay(
        Array.from(task.members, (call) => table.timesMs[call] as number),
        endMs,
        7,
      ).toFixed(1)} | ${example} |`,
  );
});

say();
say(
  `## Task-id stability: daily re-clustering of a ${String(replayOptions.windowDays)}-day window, days ${String(replayOptions.firstDay)}–${String(replayOptions.lastDay)}, online assignment in between, retirement after ${String(replayOptions.retireAfterDays)} idle days`,
);
say();
say(
  '| day | window calls | tasks | ids retained | online ARI (that day) | online = batch | online unassigned | changes |',
);
say('|---:|---:|---:|---:|---:|---:|---:|---|');
for (const run of stability.runs) {
  const pct = (value: number | undefined) =>
    value === undefined ? '–' : `${(100 * value).toFixed(1)}%`;
  say(
    `| ${String(run.day)} | ${String(run.windowCalls)} | ${String(run.tasks)} | ${pct(run.retained)} | ${fixed(run.onlineAri)} | ` +
      `${pct(run.onlineMatchesBatch)} | ${pct(run.onlineUnassigned)} | ${run.changes.join('; ') || '–'} |`,
  );
}
const retained = stability.runs.flatMap((run) =>
  run.retained === undefined ? [] : [run.retained],
);
say();
say(
  `Ids retained, calls in two consecutive windows assigned by both runs: mean ${(100 * mean(retained)).toFixed(2)}%, ` +
    `lowest ${(100 * Math.min(...retained)).toFixed(2)}%. Ground-truth tasks and the id their calls mostly carried, run by run:`,
);
say();
for (const [name, ids] of stability.idsByTruth) {
  const distinct = new Set(ids.filter((id) => id !== undefined));
  say(`- ${name}: ${compress(ids)} (${String(distinct.size)} id${distinct.size === 1 ? '' : 's'})`);
}
const loadAtEnd = loadavg();
say();
say(`Load average at end: ${loadAtEnd.map((l) => l.toFixed(1)).join(' ')}.`);

writeFileSync(`${out}/report.md`, `${lines.join('\n')}\n`);
writeFileSync(
  `${out}/results.json`,
  JSON.stringify(
    {
      rows,
      assignedScores,
      stability: stability.runs,
      sklearn,
      embedMs,
      machine: { cpus: cpus().length, loadAtStart, loadAtEnd },
    },
    null,
    2,
  ),
);
console.log(`\n(report and results in ${out})`);

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
}

/** `a a a b b` → `a ×3, b ×2`; undefined shows as ∅. */
function compress(ids: readonly (string | undefined)[]): string {
  const parts: [string, number][] = [];
  for (const id of ids) {
    const name = id ?? '∅';
    const last = parts.at(-1);
    if (last !== undefined && last[0] === name) last[1] += 1;
    else parts.push([name, 1]);
  }
  return parts
    .map(([name, count]) => (count === 1 ? name : `${name} ×${String(count)}`))
    .join(', ');
}
