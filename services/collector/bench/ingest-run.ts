import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KAFKA_VERSION, kafkaLibs, minioBinary, startMinio } from '@understudy/testbed';
import { buildCollector } from './ingest-collector.js';
import { parseOptions } from './ingest-options.js';
import { summariseProfile } from './ingest-profile.js';
import { kneeOf, medianSteps, reportText, type Machine, type Profiled } from './ingest-report.js';
import { runSteps, type Bench, type RunResult } from './ingest-steps.js';

const options = parseOptions(process.argv.slice(2));
const collectorRoot = fileURLToPath(new URL('..', import.meta.url));
const stamp = new Date().toISOString().slice(0, 19).replaceAll(':', '-');
const outDir = options.out ?? join(collectorRoot, 'bench', 'dist', `ingest-${stamp}`);

const started = Date.now();
function progress(message: string): void {
  const seconds = ((Date.now() - started) / 1000).toFixed(0).padStart(5);
  console.error(`[${seconds}s] ${message}`);
}

/** One tenant per load client, as separate agents would be. */
async function tenantKeys(count: number): Promise<{ file: string; keys: string[] }> {
  const keys = Array.from({ length: count }, () => randomBytes(24).toString('base64url'));
  const file = join(outDir, 'tenant-keys.json');
  const entries = keys.map((key, i) => ({
    tenant: `bench-tenant-${String(i + 1)}`,
    sha256: createHash('sha256').update(key).digest('hex'),
  }));
  await writeFile(file, JSON.stringify(entries));
  return { file, keys };
}

async function profileFile(dir: string): Promise<string> {
  const files = (await readdir(dir)).filter((file) => file.endsWith('.cpuprofile')).sort();
  const last = files.at(-1);
  if (last === undefined) throw new Error(`no CPU profile was written to ${dir}`);
  return join(dir, last);
}

const rounded = (averages: number[]) => averages.map((l) => Number(l.toFixed(2)));

await mkdir(outDir, { recursive: true });
const loadAtStart = rounded(loadavg());
const cpu = cpus()[0]?.model ?? 'unknown CPU';
progress(
  `${cpu} × ${String(availableParallelism())}, load average ${loadAtStart.join(' ')}; ` +
    `output in ${relative(process.cwd(), outDir)}`,
);
progress('building the collector');
const builds = await buildCollector(join(collectorRoot, 'bench', 'dist', 'collector'));
await kafkaLibs(progress);
await minioBinary(progress);
const minio = await startMinio({ name: 'bench-minio' });
try {
  const keys = await tenantKeys(options.clients);
  const bench: Bench = {
    options,
    outDir,
    progress,
    minio,
    bundle: join(builds, options.edgeOnly ? 'collector-edge.mjs' : 'collector.mjs'),
    keysFile: keys.file,
    apiKeys: keys.keys,
  };
  const runs: RunResult[] = [];
  for (let repeat = 1; repeat <= options.repeats; repeat++) {
    progress(`run ${String(repeat)} of ${String(options.repeats)}`);
    const plan = { label: `run-${String(repeat)}`, rates: options.rates };
    runs.push(await runSteps(bench, { ...plan, measureSeconds: options.stepSeconds }));
  }

  let profile: Profiled | undefined;
  if (options.profile) {
    const rate =
      options.profileRate ?? kneeOf(medianSteps(runs))?.targetSpansPerSecond ?? options.rates[0];
    if (rate === undefined) throw new Error('no rate to profile at');
    progress(`profiling the collector at ${String(rate)} spans/s`);
    const dir = join(outDir, 'profile');
    await mkdir(dir, { recursive: true });
    const plan = { label: 'profile', rates: [rate], measureSeconds: options.profileSeconds };
    const result = await runSteps(bench, { ...plan, cpuProfileDir: dir });
    // Only the measured window: not the start-up, the warm-up or the drain.
    const summary = summariseProfile(await profileFile(dir), result.windows[0]);
    profile = { rate, step: result.steps[0], summary };
  }

  const machine: Machine = {
    cpu,
    cores: availableParallelism(),
    memoryGiB: totalmem() / 2 ** 30,
    kernel: release(),
    node: process.version,
    kafka: `${KAFKA_VERSION} (one KRaft broker, -Xmx512m, replication factor 1)`,
    loadAtStart,
    loadAtEnd: rounded(loadavg()),
  };
  console.log(`\n${reportText(machine, options, runs, profile)}`);
  const results = join(outDir, 'results.json');
  const medians = medianSteps(runs);
  await writeFile(
    results,
    JSON.stringify({ machine, options, medians, knee: kneeOf(medians), runs, profile }, null, 2),
  );
  progress(`results in ${relative(process.cwd(), results)}`);
} finally {
  await minio.stop();
}
