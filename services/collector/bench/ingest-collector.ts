/**
 * The collector under test, as its own process: bundled from the sources by the test bed's
 * bundleService and run with `node` as in its image, so that its RSS and CPU are its own.
 */
import { fileURLToPath } from 'node:url';
import { bundleService, ServiceProcess } from '@understudy/testbed';

const collectorRoot = fileURLToPath(new URL('..', import.meta.url));

/** The two builds: the collector as deployed, and its edge alone (ingest-edge-main.ts). */
export type CollectorBuild = 'collector' | 'collector-edge';

/**
 * Builds src/main.ts and bench/ingest-edge-main.ts into `<outDir>/<build>.mjs` (with source maps)
 * and returns the folder.
 */
export async function buildCollector(outDir: string): Promise<string> {
  const entries: Record<CollectorBuild, string> = {
    collector: 'src/main.ts',
    'collector-edge': 'bench/ingest-edge-main.ts',
  };
  return bundleService({ root: collectorRoot, entries, outDir });
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
  private readonly process: ServiceProcess;

  private constructor(process: ServiceProcess, options: CollectorOptions) {
    this.process = process;
    this.url = `http://127.0.0.1:${String(options.httpPort)}/v1/traces`;
  }

  /** Starts the collector and waits until /readyz answers 200. */
  static async start(options: CollectorOptions): Promise<CollectorProcess> {
    const profile =
      options.cpuProfileDir === undefined
        ? []
        : ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`];
    const process = await ServiceProcess.start({
      name: 'the collector',
      bundle: options.bundle,
      env: options.env,
      opsPort: options.opsPort,
      servingPorts: [options.httpPort],
      logFile: options.logFile,
      cwd: collectorRoot,
      nodeOptions: profile,
    });
    return new CollectorProcess(process, options);
  }

  get pid(): number {
    return this.process.pid;
  }

  async counts(): Promise<CollectorCounts> {
    const text = await (await fetch(`${this.process.opsUrl}/metrics`)).text();
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
    await this.process.stop();
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
