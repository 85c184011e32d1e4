/**
 * Routing-table Watch fan-out: 100 subscribers (each on its own gRPC connection, spread over
 * several processes) watch one tenant on registry A; promotions are made on A itself
 * ("single") and on a second registry B on the same database ("two replicas", delivered to A
 * by PostgreSQL's NOTIFY). For each promotion: the time from the Promote RPC's return to the
 * last subscriber's receipt. Reports median, p99 and max per mode, medians over the repeats.
 *
 *   cd services/model-registry && npx nx run-many -t build && node bench/watch-fanout.ts \
 *     [--subscribers=100] [--processes=4] [--promotions=100] [--tasks=20] [--repeats=3] [--gap-ms=100]
 *
 * Writes the registries' logs and results.json under bench/dist/watch-fanout-<time>/.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ModelVersion } from '@understudy/contracts';
import { promoteToProduction } from '../src/testing/fixtures.ts';
import { startBed, startRun, type RegistryClient } from './bench-bed.ts';
import { median, percentile, rounded } from './stats.ts';
import { inParallel, seedTask } from './seed.ts';
import type { FromSubscribers, SubscriberOptions } from './watch-protocol.ts';

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '100' },
    processes: { type: 'string', default: '4' },
    promotions: { type: 'string', default: '100' },
    tasks: { type: 'string', default: '20' },
    repeats: { type: 'string', default: '3' },
    'gap-ms': { type: 'string', default: '100' },
  },
});
const settings = {
  subscribers: Number(values.subscribers),
  processes: Number(values.processes),
  promotionsPerMode: Number(values.promotions),
  /** The watched tenant's tasks, one production route each: the routes every change carries. */
  tasks: Number(values.tasks),
  repeats: Number(values.repeats),
  gapMs: Number(values['gap-ms']),
  /** The registries' default: the poll only backs up NOTIFY. */
  routingPollMs: 5_000,
};
const modes = ['single', 'two-replicas'] as const;
type Mode = (typeof modes)[number];
const tenantId = 'bench-fanout';
const subscriberScript = fileURLToPath(new URL('watch-subscribers.ts', import.meta.url));

/** The subscriber processes, and when all of them had each revision. */
class Subscribers {
  readonly #children: ChildProcess[];
  readonly #seen = new Map<string, { first: number; last: number; processes: number }>();
  readonly #ready: Promise<void>;
  #failure: Error | undefined;

  constructor(address: string, metadata: Readonly<Record<string, string>>) {
    const { subscribers, processes } = settings;
    let ready = 0;
    let markReady = (): void => undefined;
    this.#ready = new Promise((resolve) => {
      markReady = resolve;
    });
    this.#children = Array.from({ length: processes }, (_, i) => {
      const count = Math.floor(subscribers / processes) + (i < subscribers % processes ? 1 : 0);
      const options: SubscriberOptions = { address, tenantId, count, metadata };
      const child = fork(subscriberScript, [JSON.stringify(options)], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      child.on('message', (message: FromSubscribers) => {
        if (message.type === 'ready') {
          ready += 1;
          if (ready === processes) markReady();
        } else if (message.type === 'seen') {
          const seen = this.#seen.get(message.revision);
          this.#seen.set(message.revision, {
            first: Math.min(seen?.first ?? Infinity, message.first),
            last: Math.max(seen?.last ?? 0, message.last),
            processes: (seen?.processes ?? 0) + 1,
          });
        } else {
          this.#failure = new Error(`a subscriber failed: ${message.error}`);
        }
      });
      child.once('exit', (code) => {
        this.#failure ??= new Error(`a subscriber process exited (${String(code)})`);
      });
      return child;
    });
  }

  async ready(): Promise<void> {
    await Promise.race([this.#ready, this.#failed(60_000)]);
  }

  /** When the first and the last subscriber received `revision`. */
  async receipts(revision: bigint): Promise<{ first: number; last: number }> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (this.#failure !== undefined) throw this.#failure;
      const seen = this.#seen.get(revision.toString());
      if (seen !== undefined && seen.processes === this.#children.length) return seen;
      if (Date.now() > deadline) throw new Error(`revision ${String(revision)} not seen in 10 s`);
      await sleep(1);
    }
  }

  stop(): void {
    for (const child of this.#children) {
      child.removeAllListeners('exit');
      if (child.connected) child.send({ type: 'stop' });
    }
  }

  async #failed(ms: number): Promise<never> {
    const deadline = Date.now() + ms;
    while (this.#failure === undefined && Date.now() < deadline) await sleep(50);
    throw this.#failure ?? new Error(`subscribers not ready in ${String(ms / 1000)} s`);
  }
}

interface Sample {
  readonly mode: Mode;
  readonly repeat: number;
  readonly revision: string;
  /** How long the Promote RPC took. */
  readonly promoteMs: number;
  /** From the Promote RPC's return to the first and the last subscriber's receipt. */
  readonly firstMs: number;
  readonly lastMs: number;
}

const now = () => performance.timeOrigin + performance.now();
const run = await startRun('watch-fanout');
const { progress } = run;
const bed = await startBed(run.outDir, progress);
let subscribers: Subscribers | undefined;
try {
  const env = { UNDERSTUDY_ROUTING_POLL_MS: String(settings.routingPollMs) };
  const [a, b] = [await bed.registry('registry-a', env), await bed.registry('registry-b', env)];
  const clients: Record<Mode, RegistryClient> = {
    single: bed.client(a.address),
    'two-replicas': bed.client(b.address),
  };
  const total = settings.promotionsPerMode * modes.length * settings.repeats;
  const perTask = Math.ceil(total / settings.tasks);
  progress(`registering ${String(settings.tasks)} tasks × ${String(perTask)} versions to promote`);
  const byTask = await inParallel(
    Array.from({ length: settings.tasks }, (_, i) => `fanout-task-${String(i + 1)}`),
    4,
    (taskId) => seedTask(clients.single, tenantId, taskId, perTask),
  );
  // Round robin over the tasks: each promotion replaces a task's production version, so the
  // tenant keeps one route per task and every change carries `tasks` routes.
  const versions: ModelVersion[] = Array.from({ length: perTask }, (_, v) =>
    byTask.map((task) => task[v]),
  )
    .flat()
    .filter((version) => version !== undefined)
    .reverse();

  progress(
    `${String(settings.subscribers)} subscribers in ${String(settings.processes)} processes`,
  );
  subscribers = new Subscribers(a.address, bed.metadata);
  await subscribers.ready();

  const samples: Sample[] = [];
  /** Per run and mode: each registry's own CPU per promotion, and the machine's load. */
  const costs: { mode: Mode; repeat: number; cpuMsA: number; cpuMsB: number; load: number }[] = [];
  for (let repeat = 1; repeat <= settings.repeats; repeat += 1) {
    for (const mode of modes) {
      const cpuBefore = [a.process.cpuSeconds(), b.process.cpuSeconds()];
      for (let i = 0; i < settings.promotionsPerMode; i += 1) {
        const version = versions.pop();
        if (version === undefined) throw new Error('ran out of versions');
        const called = now();
        const revision = await promoteToProduction(clients[mode], version, 'benchmark');
        const returned = now();
        const { first, last } = await subscribers.receipts(revision);
        samples.push({
          mode,
          repeat,
          revision: revision.toString(),
          promoteMs: rounded(returned - called),
          firstMs: rounded(first - returned),
          lastMs: rounded(last - returned),
        });
        await sleep(settings.gapMs);
      }
      const perPromotion = (process: typeof a.process, before: number | undefined) =>
        rounded(((process.cpuSeconds() - (before ?? 0)) * 1000) / settings.promotionsPerMode);
      const cost = {
        mode,
        repeat,
        cpuMsA: perPromotion(a.process, cpuBefore[0]),
        cpuMsB: perPromotion(b.process, cpuBefore[1]),
        load: rounded(loadavg()[0] ?? 0),
      };
      costs.push(cost);
      const mine = samples.filter((s) => s.mode === mode && s.repeat === repeat);
      const lasts = mine.map((s) => s.lastMs);
      progress(
        `run ${String(repeat)} ${mode}: last subscriber after ` +
          `median ${median(lasts).toFixed(1)} ms, p99 ${percentile(lasts, 99).toFixed(1)} ms, ` +
          `max ${Math.max(...lasts).toFixed(1)} ms; CPU per promotion ` +
          `A ${String(cost.cpuMsA)} ms, B ${String(cost.cpuMsB)} ms; load ${String(cost.load)}`,
      );
    }
  }

  const summary = modes.map((mode) => {
    const runs = Array.from({ length: settings.repeats }, (_, r) => {
      const mine = samples.filter((s) => s.mode === mode && s.repeat === r + 1);
      const lasts = mine.map((s) => s.lastMs);
      return {
        lastMedianMs: median(lasts),
        lastP99Ms: percentile(lasts, 99),
        lastMaxMs: Math.max(...lasts),
        firstMedianMs: median(mine.map((s) => s.firstMs)),
        promoteMedianMs: median(mine.map((s) => s.promoteMs)),
      };
    });
    const of = (key: keyof (typeof runs)[number]) => rounded(median(runs.map((run) => run[key])));
    const mine = costs.filter((c) => c.mode === mode);
    return {
      mode,
      cpuMsPerPromotionA: rounded(median(mine.map((c) => c.cpuMsA))),
      cpuMsPerPromotionB: rounded(median(mine.map((c) => c.cpuMsB))),
      loadAverage: rounded(median(mine.map((c) => c.load))),
      lastMedianMs: of('lastMedianMs'),
      lastP99Ms: of('lastP99Ms'),
      lastMaxMs: of('lastMaxMs'),
      firstMedianMs: of('firstMedianMs'),
      promoteMedianMs: of('promoteMedianMs'),
      runs,
    };
  });
  const resultsFile = await run.writeResults({ settings, summary, costs, samples });
  console.log(
    `\nTime from the Promote RPC's return to the last of ${String(settings.subscribers)} ` +
      `subscribers (medians of ${String(settings.repeats)} runs of ` +
      `${String(settings.promotionsPerMode)} promotions)`,
  );
  console.log(
    '| mode | median ms | p99 ms | max ms | first ms | Promote ms | CPU ms/promotion A, B | load avg |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of summary) {
    console.log(
      `| ${row.mode} | ${String(row.lastMedianMs)} | ${String(row.lastP99Ms)} | ` +
        `${String(row.lastMaxMs)} | ${String(row.firstMedianMs)} | ${String(row.promoteMedianMs)} | ` +
        `${String(row.cpuMsPerPromotionA)}, ${String(row.cpuMsPerPromotionB)} | ` +
        `${String(row.loadAverage)} |`,
    );
  }
  progress(`results in ${resultsFile}`);
} finally {
  subscribers?.stop();
  await bed.stop();
}
