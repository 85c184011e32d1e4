/**
 * The registry's reads under load: GetModelVersion, ListModelVersions (pages of 50) and
 * GetRoutingTable, driven by ghz through server reflection at stepped concurrency against the
 * registry running as its own process on real PostgreSQL (and Kafka, which it needs to start).
 * Reports p50/p99 and throughput per step, medians over the repeats, and the knee: the lowest
 * concurrency whose throughput is within 10% of the best. See the README's Benchmark section.
 *
 *   cd services/model-registry && npx nx run-many -t build && node bench/get-list.ts \
 *     [--tenants=10] [--tasks=20] [--versions=5] [--concurrency=1,2,4,8,16,32] \
 *     [--seconds=4] [--repeats=3]
 *
 * Writes ghz's reports, the registry's log and results.json under bench/dist/get-list-<time>/.
 */
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ghzBinary, GHZ_VERSION } from '@understudy/testbed';
import { promoteToProduction } from '../src/testing/fixtures.ts';
import { startBed, startRun, type RegistryClient } from './bench-bed.ts';
import { ghz, type GhzSummary } from './ghz.ts';
import { median, rounded } from './stats.ts';
import { inParallel, seedTask } from './seed.ts';

const { values } = parseArgs({
  options: {
    tenants: { type: 'string', default: '10' },
    tasks: { type: 'string', default: '20' },
    versions: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '1,2,4,8,16,32' },
    seconds: { type: 'string', default: '4' },
    repeats: { type: 'string', default: '3' },
  },
});
const settings = {
  tenants: Number(values.tenants),
  tasksPerTenant: Number(values.tasks),
  versionsPerTask: Number(values.versions),
  concurrency: values.concurrency.split(',').map(Number),
  secondsPerStep: Number(values.seconds),
  repeats: Number(values.repeats),
  warmUpSeconds: 2,
  pageSize: 50,
  /** ghz spreads its workers over this many HTTP/2 connections (at most one per worker). */
  maxConnections: 4,
  ghz: GHZ_VERSION,
};

const run = await startRun('get-list');
const { progress, outDir } = run;
const ghzPath = await ghzBinary(progress);
const bed = await startBed(outDir, progress);

/** Tenants × tasks × versions, one version per task in production (a route to read). */
async function seed(client: RegistryClient) {
  const tasks = Array.from({ length: settings.tenants * settings.tasksPerTenant }, (_, i) => ({
    tenantId: `bench-tenant-${String(Math.floor(i / settings.tasksPerTenant) + 1)}`,
    taskId: `bench-task-${String(i + 1)}`,
  }));
  const versions = await inParallel(tasks, 4, async ({ tenantId, taskId }) => {
    const registered = await seedTask(client, tenantId, taskId, settings.versionsPerTask);
    const [first] = registered;
    if (first !== undefined) await promoteToProduction(client, first, 'benchmark');
    return registered;
  });
  return { tenantIds: [...new Set(tasks.map((t) => t.tenantId))], versions: versions.flat() };
}

interface Step {
  readonly method: string;
  readonly repeat: number;
  readonly concurrency: number;
  readonly result: GhzSummary;
  /** The registry process's own CPU per request: its cost, whatever else runs here. */
  readonly registryCpuMsPerRequest: number;
  /** The machine's 1-minute load average after the step. */
  readonly loadAverage: number;
}

try {
  const registry = await bed.registry('registry');
  const client = bed.client(registry.address);
  progress(
    `seeding ${String(settings.tenants)} tenants × ${String(settings.tasksPerTenant)} tasks × ` +
      `${String(settings.versionsPerTask)} versions`,
  );
  const seeded = await seed(client);
  const requests: Record<string, unknown[]> = {
    GetModelVersion: seeded.versions.map(({ tenantId, modelVersionId }) => ({
      tenantId,
      modelVersionId,
    })),
    ListModelVersions: seeded.tenantIds.map((tenantId) => ({
      tenantId,
      pageSize: settings.pageSize,
    })),
    GetRoutingTable: seeded.tenantIds.map((tenantId) => ({ tenantId })),
  };
  const dataFiles: Record<string, string> = {};
  for (const [method, data] of Object.entries(requests)) {
    const file = join(outDir, `${method}.requests.json`);
    await writeFile(file, JSON.stringify(data));
    dataFiles[method] = file;
  }
  const page = await client.listModelVersions({
    tenantId: seeded.tenantIds[0] ?? '',
    pageSize: settings.pageSize,
  });
  const perPage = Math.min(settings.pageSize, settings.tasksPerTenant * settings.versionsPerTask);
  if (page.modelVersions.length !== perPage) {
    throw new Error(
      `a page holds ${String(page.modelVersions.length)} versions, not ${String(perPage)}`,
    );
  }

  const steps: Step[] = [];
  const load = (method: string, concurrency: number, seconds: number, label: string) =>
    ghz(ghzPath, registry.address, bed.metadata, {
      method,
      dataFile: dataFiles[method] ?? '',
      concurrency,
      connections: Math.min(concurrency, settings.maxConnections),
      seconds,
      outputFile: join(outDir, `${method}-${label}.ghz.json`),
    });
  for (let repeat = 1; repeat <= settings.repeats; repeat += 1) {
    for (const method of Object.keys(requests)) {
      await load(method, 8, settings.warmUpSeconds, `r${String(repeat)}-warm-up`);
      for (const concurrency of settings.concurrency) {
        const cpuBefore = registry.process.cpuSeconds();
        const result = await load(
          method,
          concurrency,
          settings.secondsPerStep,
          `r${String(repeat)}-c${String(concurrency)}`,
        );
        const cpuMs = (registry.process.cpuSeconds() - cpuBefore) * 1000;
        const failed = Object.entries(result.statuses).filter(([status]) => status !== 'OK');
        if (failed.length > 0) throw new Error(`${method} failed: ${JSON.stringify(failed)}`);
        progress(
          `run ${String(repeat)} ${method} c=${String(concurrency)}: ` +
            `${result.requestsPerSecond.toFixed(0)} req/s, p50 ${result.p50Ms.toFixed(2)} ms, ` +
            `p99 ${result.p99Ms.toFixed(2)} ms, registry CPU ` +
            `${(cpuMs / result.requests).toFixed(2)} ms/request`,
        );
        steps.push({
          method,
          repeat,
          concurrency,
          result,
          registryCpuMsPerRequest: rounded(cpuMs / result.requests, 3),
          loadAverage: rounded(loadavg()[0] ?? 0),
        });
      }
    }
  }

  const summary = Object.keys(requests).map((method) => {
    const byConcurrency = settings.concurrency.map((concurrency) => {
      const mine = steps.filter((s) => s.method === method && s.concurrency === concurrency);
      const runs = mine.map((s) => s.result);
      return {
        concurrency,
        requestsPerSecond: rounded(median(runs.map((r) => r.requestsPerSecond)), 0),
        p50Ms: rounded(median(runs.map((r) => r.p50Ms))),
        p99Ms: rounded(median(runs.map((r) => r.p99Ms))),
        registryCpuMsPerRequest: rounded(median(mine.map((s) => s.registryCpuMsPerRequest)), 3),
        loadAverage: rounded(median(mine.map((s) => s.loadAverage))),
      };
    });
    const best = Math.max(...byConcurrency.map((s) => s.requestsPerSecond));
    const knee = byConcurrency.find((s) => s.requestsPerSecond >= 0.9 * best);
    return { method, steps: byConcurrency, knee };
  });
  const resultsFile = await run.writeResults({ settings, summary, runs: steps });
  for (const { method, steps: rows, knee } of summary) {
    console.log(`\n${method} (medians of ${String(settings.repeats)} runs)`);
    console.log(
      '| concurrency | req/s | p50 ms | p99 ms | registry CPU ms/req | load avg |\n' +
        '|---:|---:|---:|---:|---:|---:|',
    );
    for (const row of rows) {
      const mark = row === knee ? ' (knee)' : '';
      console.log(
        `| ${String(row.concurrency)}${mark} | ${String(row.requestsPerSecond)} | ` +
          `${String(row.p50Ms)} | ${String(row.p99Ms)} | ${String(row.registryCpuMsPerRequest)} | ` +
          `${String(row.loadAverage)} |`,
      );
    }
  }
  progress(`results in ${resultsFile}`);
} finally {
  await bed.stop();
}
