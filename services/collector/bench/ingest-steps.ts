/**
 * One run of the bench: a fresh Kafka, the collector, the load clients; the load stepped up
 * rate by rate, each step measured after a warm-up; then the clients flushed and what the
 * collector acknowledged checked against what Kafka holds.
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  freePort,
  startKafka,
  uniqueName,
  type KafkaServer,
  type MinioServer,
} from '@understudy/testbed';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { LoadClients } from './ingest-clients.js';
import { CollectorProcess, type CollectorCounts } from './ingest-collector.js';
import type { BenchOptions } from './ingest-options.js';
import {
  CpuMeter,
  groupCpuSeconds,
  machineBusySeconds,
  processCpuSeconds,
  rssBytes,
} from './ingest-proc.js';
import type { LoadCounters, LoadOptions, LoadSnapshot } from './ingest-protocol.js';
import { describeStep, describeVerification, holds } from './ingest-report.js';
import { percentile } from './ingest-stats.js';
import { recordsOn, verify, type Verification } from './ingest-verify.js';

const callsTopic = 'understudy.calls.captured.v1';

export interface Cores {
  collector: number;
  kafka: number;
  minio: number;
  clients: number;
  bench: number;
  /** Everything else on the machine (other people's work on a shared host). */
  others: number;
  /** All of the machine's busy cores. */
  machine: number;
}

export interface StepResult {
  targetSpansPerSecond: number;
  offeredSpansPerSecond: number;
  acceptedSpansPerSecond: number;
  acceptedCallsPerSecond: number;
  /** OTLP request bytes (protobuf bodies and HTTP headers) accepted, 10^6 per second. */
  megabytesPerSecond: number;
  /** Request bytes per span sent, over the run so far. */
  bytesPerSpan: number;
  exportsPerSecond: number;
  spansPerExport: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  droppedSpans: number;
  failedExports: number;
  lateTicks: number;
  refused429: number;
  refused503: number;
  otherErrors: number;
  /** Spans the collector counted as accepted, per second (its own metric). */
  collectorSpansPerSecond: number;
  rssMaxMb: number;
  rssEndMb: number;
  cores: Cores;
  /** Collector CPU time per accepted span: its cost, whatever share of the CPU it got. */
  collectorCpuUsPerSpan: number;
  /** LLM calls acknowledged to the clients but not yet on the calls topic at the step's end. */
  joinerLagCalls: number;
  queuedAtEnd: number;
  load1: number;
}

/** A step's measured window on the monotonic clock, in µs (as V8 CPU profiles time samples). */
export interface Window {
  fromUs: number;
  toUs: number;
}

export interface RunResult {
  steps: StepResult[];
  windows: Window[];
  verification: Verification;
  /** The collector's RSS when ready, before any load, and the most seen under load. */
  collectorIdleRssMb: number;
  collectorPeakRssMb: number;
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);
const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);
const mb = (bytes: number) => bytes / 1_000_000;

/** What the runs share: options, output folder, MinIO, the collector build, tenant keys. */
export interface Bench {
  readonly options: BenchOptions;
  readonly outDir: string;
  readonly progress: (message: string) => void;
  readonly minio: MinioServer;
  /** The collector build to run (ingest-collector.ts). */
  readonly bundle: string;
  readonly keysFile: string;
  /** One per load client, each of its own tenant. */
  readonly apiKeys: readonly string[];
}

/** One run's load: each rate for the measured seconds, after the warm-up. */
export interface Plan {
  readonly label: string;
  readonly rates: readonly number[];
  readonly measureSeconds: number;
  /** Profiles the collector's CPU (`--cpu-prof`) into this folder. */
  readonly cpuProfileDir?: string;
}

async function startRun(bench: Bench, { label, cpuProfileDir }: Plan) {
  const { options } = bench;
  const kafka = await startKafka({ name: 'bench-kafka' });
  const { endpoint: s3 } = bench.minio;
  const [httpPort, opsPort, grpcPort] = [await freePort(), await freePort(), await freePort()];
  const collector = await CollectorProcess.start({
    bundle: bench.bundle,
    httpPort,
    opsPort,
    logFile: join(bench.outDir, `collector-${label}.log`),
    ...(cpuProfileDir !== undefined && { cpuProfileDir }),
    env: {
      UNDERSTUDY_KAFKA_BROKERS: kafka.endpoint.brokers.join(','),
      UNDERSTUDY_S3_ENDPOINT: `http://${s3.endPoint}:${String(s3.port)}`,
      UNDERSTUDY_S3_REGION: s3.region,
      UNDERSTUDY_S3_BUCKET: uniqueName('bench'),
      UNDERSTUDY_S3_ACCESS_KEY: s3.accessKey,
      UNDERSTUDY_S3_SECRET_KEY: s3.secretKey,
      UNDERSTUDY_TENANT_KEYS_FILE: bench.keysFile,
      UNDERSTUDY_COLLECTOR_REDACTION_SECRET: randomBytes(32).toString('base64url'),
      UNDERSTUDY_HTTP_HOST: '127.0.0.1',
      UNDERSTUDY_HTTP_PORT: String(httpPort),
      UNDERSTUDY_GRPC_HOST: '127.0.0.1',
      UNDERSTUDY_GRPC_PORT: String(grpcPort),
      // The per-tenant rate limits are policy, not capacity: out of the way here.
      UNDERSTUDY_COLLECTOR_TENANT_REQUESTS_PER_SECOND: '1000000',
      UNDERSTUDY_COLLECTOR_TENANT_BYTES_PER_SECOND: String(2 ** 31 - 1),
    },
  }).catch(async (error: unknown) => {
    await kafka.stop();
    throw error;
  });
  const clientOptions = bench.apiKeys.map((apiKey, i): LoadOptions => ({
    url: collector.url,
    apiKey,
    serviceName: `support-agent-${String(i + 1)}`,
    seed: i + 1,
    chatsPerTrace: options.chatsPerTrace,
    chatBytes: options.chatBytes,
    piiShare: options.piiShare,
    maxExportBatchSize: options.batch,
    maxQueueSize: options.queue,
    scheduledDelayMillis: options.delayMs,
  }));
  const clients = await LoadClients.start(clientOptions).catch(async (error: unknown) => {
    await collector.stop();
    await kafka.stop();
    throw error;
  });
  const admin = new Kafka({
    clientId: 'ingest-bench',
    brokers: kafka.endpoint.brokers,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  return { kafka, collector, clients, admin };
}

async function stopRun(run: {
  kafka: KafkaServer;
  collector: CollectorProcess;
  clients: LoadClients;
  admin: Admin;
}): Promise<void> {
  run.clients.stop();
  await run.admin.disconnect();
  await run.collector.stop();
  await run.kafka.stop();
}

export async function runSteps(bench: Bench, plan: Plan): Promise<RunResult> {
  const { options, progress } = bench;
  const run = await startRun(bench, plan);
  const { kafka, collector, clients, admin } = run;
  try {
    const meter = new CpuMeter({
      collector: () => processCpuSeconds(collector.pid),
      kafka: () => groupCpuSeconds(kafka.processGroup),
      minio: () => groupCpuSeconds(bench.minio.processGroup),
      clients: () => sum(clients.pids.map(processCpuSeconds)),
      bench: () => {
        const { user, system } = process.cpuUsage();
        return (user + system) / 1e6;
      },
      machine: machineBusySeconds,
    });
    const steps: StepResult[] = [];
    const windows: Window[] = [];
    const idleRss = rssBytes(collector.pid) ?? 0;
    let peakRss = 0;
    let saturated = 0;
    for (const rate of plan.rates) {
      clients.setRate(rate);
      await sleep(options.warmupSeconds * 1000);
      const from = await observe();
      const fromUs = monotonicUs();
      const rss: number[] = [];
      const deadline = performance.now() + plan.measureSeconds * 1000;
      while (performance.now() < deadline) {
        rss.push(rssBytes(collector.pid) ?? 0);
        await sleep(Math.min(500, Math.max(0, deadline - performance.now())));
      }
      windows.push({ fromUs, toUs: monotonicUs() });
      const to = await observe();
      const calls = options.edgeOnly ? undefined : await recordsOn(admin, callsTopic);
      const step = stepResult(rate, from, to, rss, calls);
      peakRss = Math.max(peakRss, ...rss);
      steps.push(step);
      progress(`${plan.label}: ${describeStep(step)}`);
      if (!holds(step) && ++saturated >= options.saturatedSteps) break;
    }
    const verification = await verify(clients, kafka.endpoint.brokers, options.edgeOnly);
    progress(`${plan.label}: ${describeVerification(verification)}`);
    return {
      steps,
      windows,
      verification,
      collectorIdleRssMb: mb(idleRss),
      collectorPeakRssMb: mb(peakRss),
    };

    async function observe() {
      const [snapshots, counts] = await Promise.all([clients.snapshot(), collector.counts()]);
      return { snapshots, counts, cpu: meter.read() };
    }
  } catch (error) {
    // Said now: stopping the servers takes a while, and may fail in turn.
    progress(
      `${plan.label} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    throw error;
  } finally {
    await stopRun(run);
  }
}

interface Observation {
  readonly snapshots: LoadSnapshot[];
  readonly counts: CollectorCounts;
  readonly cpu: ReturnType<CpuMeter<keyof Omit<Cores, 'others'>>['read']>;
}

function stepResult(
  target: number,
  from: Observation,
  to: Observation,
  rss: readonly number[],
  /** On the calls topic now; undefined without the joiner. */
  callsOnTopic: number | undefined,
): StepResult {
  const seconds = (to.cpu.at - from.cpu.at) / 1000;
  const delta = (field: keyof LoadCounters) =>
    sum(to.snapshots.map((s) => s[field])) - sum(from.snapshots.map((s) => s[field]));
  const status = (code: string) =>
    (to.counts.exportsByStatus[code] ?? 0) - (from.counts.exportsByStatus[code] ?? 0);
  const allStatuses = new Set([
    ...Object.keys(to.counts.exportsByStatus),
    ...Object.keys(from.counts.exportsByStatus),
  ]);
  const otherErrors = sum(
    [...allStatuses].filter((code) => !['200', '429', '503'].includes(code)).map(status),
  );
  const latencies = to.snapshots.flatMap((s) => s.latenciesMs);
  const accepted = delta('acceptedSpans');
  const exports = delta('exports');
  const total = (field: keyof LoadCounters) => sum(to.snapshots.map((s) => s[field]));
  const bytesPerSpan = total('bytesSent') / (total('acceptedSpans') + total('failedSpans'));
  const cores = CpuMeter.cores(from.cpu, to.cpu);
  const ours = cores.collector + cores.kafka + cores.minio + cores.clients + cores.bench;
  return {
    targetSpansPerSecond: target,
    offeredSpansPerSecond: delta('offeredSpans') / seconds,
    acceptedSpansPerSecond: accepted / seconds,
    acceptedCallsPerSecond: delta('acceptedCalls') / seconds,
    megabytesPerSecond: mb(accepted * bytesPerSpan) / seconds,
    bytesPerSpan,
    exportsPerSecond: exports / seconds,
    spansPerExport: exports === 0 ? Number.NaN : accepted / exports,
    p50Ms: percentile(latencies, 50),
    p90Ms: percentile(latencies, 90),
    p99Ms: percentile(latencies, 99),
    maxMs: percentile(latencies, 100),
    droppedSpans: delta('droppedSpans'),
    failedExports: delta('failedExports'),
    lateTicks: delta('lateTicks'),
    refused429: status('429'),
    refused503: status('503'),
    otherErrors,
    collectorSpansPerSecond: (to.counts.spansAccepted - from.counts.spansAccepted) / seconds,
    rssMaxMb: mb(Math.max(...rss)),
    rssEndMb: mb(rss.at(-1) ?? 0),
    cores: { ...cores, others: Math.max(0, cores.machine - ours) },
    collectorCpuUsPerSpan: (1e6 * cores.collector * seconds) / accepted,
    joinerLagCalls:
      callsOnTopic === undefined
        ? Number.NaN
        : sum(to.snapshots.map((s) => s.acceptedCalls)) - callsOnTopic,
    queuedAtEnd: sum(to.snapshots.map((s) => s.queued)),
    load1: loadavg()[0] ?? 0,
  };
}
