/** One ghz run against the registry, through server reflection (no .proto files). */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface GhzRun {
  /** A ModelRegistryService method, e.g. `GetModelVersion`. */
  readonly method: string;
  /** A JSON array of requests; ghz sends them round-robin. */
  readonly dataFile: string;
  readonly concurrency: number;
  readonly connections: number;
  readonly seconds: number;
  /** Where ghz writes its JSON report. */
  readonly outputFile: string;
}

export interface GhzSummary {
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly averageMs: number;
  /** Responses by gRPC status (OK included). */
  readonly statuses: Readonly<Record<string, number>>;
}

interface Report {
  count: number;
  rps: number;
  average: number;
  latencyDistribution: { percentage: number; latency: number }[] | null;
  statusCodeDistribution: Record<string, number> | null;
}

const nsPerMs = 1e6;

/** Runs ghz closed-loop (`concurrency` workers, no rate limit) for `seconds`. */
export async function ghz(
  binary: string,
  address: string,
  metadata: Readonly<Record<string, string>>,
  run: GhzRun,
): Promise<GhzSummary> {
  const headers = JSON.stringify(metadata);
  await execFileAsync(
    binary,
    [
      '--insecure',
      '--call',
      `understudy.v1.ModelRegistryService.${run.method}`,
      '--data-file',
      run.dataFile,
      '--metadata',
      headers,
      '--reflect-metadata',
      headers,
      '--concurrency',
      String(run.concurrency),
      '--connections',
      String(run.connections),
      '--duration',
      `${String(run.seconds)}s`,
      // Calls in flight at the end finish and count; the default cuts their connections.
      '--duration-stop',
      'wait',
      '--format',
      'json',
      '--output',
      run.outputFile,
      address,
    ],
    { timeout: (run.seconds + 60) * 1000 },
  );
  const report = JSON.parse(await readFile(run.outputFile, 'utf8')) as Report;
  const at = (percentage: number) =>
    (report.latencyDistribution ?? []).find((entry) => entry.percentage === percentage)?.latency ??
    Number.NaN;
  return {
    requests: report.count,
    requestsPerSecond: report.rps,
    p50Ms: at(50) / nsPerMs,
    p90Ms: at(90) / nsPerMs,
    p99Ms: at(99) / nsPerMs,
    averageMs: report.average / nsPerMs,
    statuses: report.statusCodeDistribution ?? {},
  };
}
