/**
 * The collector under test, as its own process: built from the sources into one ES module (the
 * workspace libraries bundled in, npm packages left to node_modules, decorators compiled as tsc
 * does), then run with `node` as in its image, so that its RSS and CPU are its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const collectorRoot = fileURLToPath(new URL('..', import.meta.url));
const guard = fileURLToPath(new URL('ingest-guard.ts', import.meta.url));

/** The two builds: the collector as deployed, and its edge alone (ingest-edge-main.ts). */
export type CollectorBuild = 'collector' | 'collector-edge';

/**
 * Builds src/main.ts and bench/ingest-edge-main.ts into `<outDir>/<build>.mjs` (with source maps)
 * and returns the folder.
 */
export async function buildCollector(outDir: string): Promise<string> {
  const conditions = ['@understudy/source', 'node', 'import', 'default'];
  const input: Record<CollectorBuild, string> = {
    collector: 'src/main.ts',
    'collector-edge': 'bench/ingest-edge-main.ts',
  };
  await build({
    configFile: false,
    root: collectorRoot,
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
        input,
        output: { entryFileNames: '[name].mjs', chunkFileNames: '[name]-[hash].mjs' },
      },
    },
  });
  return outDir;
}

export interface CollectorOptions {
  readonly bundle: string;
  readonly env: Readonly<Record<string, string>>;
  readonly httpPort: number;
  readonly opsPort: number;
  readonly logFile: string;
  /** Writes a V8 CPU profile (`--cpu-prof`) into this folder when the collector exits. */
  readonly cpuProfileDir?: string;
}

/** Counts from the collector's own Prometheus metrics. */
export interface CollectorCounts {
  /** OTLP export requests by HTTP status code. */
  readonly exportsByStatus: Record<string, number>;
  readonly spansAccepted: number;
}

export class CollectorProcess {
  readonly url: string;
  private readonly opsUrl: string;
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;

  private constructor(child: ChildProcess, options: CollectorOptions) {
    this.child = child;
    this.url = `http://127.0.0.1:${String(options.httpPort)}/v1/traces`;
    this.opsUrl = `http://127.0.0.1:${String(options.opsPort)}`;
    this.exited = new Promise((resolve) => child.once('exit', resolve));
  }

  /** Starts the collector and waits until /readyz answers 200. */
  static async start(options: CollectorOptions): Promise<CollectorProcess> {
    const log = await open(options.logFile, 'a');
    const profile =
      options.cpuProfileDir === undefined
        ? []
        : ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`];
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [...profile, '--import', guard, options.bundle], {
        cwd: collectorRoot,
        env: { ...process.env, NODE_ENV: 'production', ...options.env },
        stdio: ['ignore', log.fd, log.fd, 'ipc'],
      });
    } finally {
      await log.close();
    }
    const collector = new CollectorProcess(child, options);
    await collector.ready(options.logFile);
    return collector;
  }

  get pid(): number {
    const { pid } = this.child;
    if (pid === undefined) throw new Error('the collector did not start');
    return pid;
  }

  private get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private async ready(logFile: string): Promise<void> {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline && this.running) {
      const status = await fetch(`${this.opsUrl}/readyz`).then(
        (response) => response.status,
        () => 0,
      );
      if (status === 200) return;
      await sleep(250);
    }
    const reason = this.running ? 'was not ready in 120 s' : 'exited';
    await this.stop();
    throw new Error(`the collector ${reason}; see ${logFile}`);
  }

  async counts(): Promise<CollectorCounts> {
    const text = await (await fetch(`${this.opsUrl}/metrics`)).text();
    const exportsByStatus: Record<string, number> = {};
    let spansAccepted = 0;
    for (const { name, labels, value } of samples(text)) {
      if (name === 'understudy_collector_exports_total' && labels['otlp_signal'] === 'traces') {
        const status = labels['http_response_status_code'] ?? 'none';
        exportsByStatus[status] = (exportsByStatus[status] ?? 0) + value;
      }
      if (
        name === 'understudy_collector_records_total' &&
        labels['otlp_signal'] === 'traces' &&
        labels['outcome'] === 'accepted'
      ) {
        spansAccepted += value;
      }
    }
    return { exportsByStatus, spansAccepted };
  }

  /** Stops it as an orchestrator does (SIGTERM; the service drains and exits). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const exited = await Promise.race([this.exited.then(() => true), sleep(30_000, false)]);
    if (!exited) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** The samples of a Prometheus text exposition. */
function* samples(text: string): Generator<Sample> {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[label[1] ?? ''] = label[2] ?? '';
    }
    yield { name: match[1] ?? '', labels, value: Number(match[3]) };
  }
}
