/** What bench/ingest.ts prints: progress lines, the table of medians, the knee, the profile. */
import type { BenchOptions } from './ingest-options.js';
import type { ProfileSummary, Share } from './ingest-profile.js';
import { medians } from './ingest-stats.js';
import type { RunResult, StepResult } from './ingest-steps.js';
import type { Verification } from './ingest-verify.js';

/**
 * A step holds when the collector kept up: the clients' bounded queues did not overflow, and
 * nothing was refused or failed. (Accepted spans per window are not the test: exports complete
 * in whole batches, a few per client in a window at low rates.) The clients must also have
 * offered the rate, or the load generator, not the collector, was the limit.
 */
export function holds(step: StepResult): boolean {
  return (
    step.droppedSpans === 0 &&
    step.failedExports === 0 &&
    step.refused429 + step.refused503 + step.otherErrors === 0 &&
    step.offeredSpansPerSecond >= 0.95 * step.targetSpansPerSecond
  );
}

const fixed = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : '–');

export function describeStep(s: StepResult): string {
  return (
    `target ${String(s.targetSpansPerSecond)}/s: accepted ${fixed(s.acceptedSpansPerSecond)} spans/s ` +
    `(${fixed(s.megabytesPerSecond, 1)} MB/s), p50 ${fixed(s.p50Ms)} ms, p99 ${fixed(s.p99Ms)} ms, ` +
    `429/503 ${String(s.refused429)}/${String(s.refused503)}, dropped ${String(s.droppedSpans)}, ` +
    `RSS ${fixed(s.rssMaxMb)} MB, cores collector ${fixed(s.cores.collector, 2)} ` +
    `(${fixed(s.collectorCpuUsPerSpan)} µs/span) kafka ` +
    `${fixed(s.cores.kafka, 2)} clients ${fixed(s.cores.clients, 2)} others ${fixed(s.cores.others, 2)}, ` +
    `joiner lag ${String(s.joinerLagCalls)} calls, load ${fixed(s.load1, 2)}${holds(s) ? '' : ' (saturated)'}`
  );
}

export function describeVerification(v: Verification): string {
  return (
    `acknowledged ${String(v.acceptedSpans)} spans / ${String(v.acceptedCalls)} calls; on Kafka ` +
    `${String(v.distinctSpans)} distinct spans in ${String(v.spanFragments)} fragments, ` +
    `${String(v.callsOnTopic)} calls (drained in ${fixed(v.drainSeconds)} s); lost ` +
    `${String(v.lostSpans)} spans, ${String(v.lostCalls)} calls; extra ${String(v.extraSpans)} ` +
    `spans, ${String(v.extraCalls)} calls; dropped by the clients' SDK ${String(v.droppedByClients)}, ` +
    `failed exports' spans ${String(v.failedSpans)}`
  );
}

function table(steps: readonly StepResult[]): string {
  const rows = steps.map(
    (s) =>
      `| ${String(s.targetSpansPerSecond)} | ${fixed(s.offeredSpansPerSecond)} | ` +
      `${fixed(s.acceptedSpansPerSecond)} | ${fixed(s.acceptedCallsPerSecond)} | ` +
      `${fixed(s.megabytesPerSecond, 1)} | ${fixed(s.p50Ms)} | ${fixed(s.p99Ms)} | ` +
      `${fixed(s.refused429)} / ${fixed(s.refused503)} | ${fixed(s.droppedSpans)} | ` +
      `${fixed(s.rssMaxMb)} | ${fixed(s.cores.collector, 2)} | ${fixed(s.collectorCpuUsPerSpan)} | ${fixed(s.cores.kafka, 2)} | ` +
      `${fixed(s.cores.clients, 2)} | ${fixed(s.cores.others, 2)} | ${fixed(s.joinerLagCalls)} |` +
      `${holds(s) ? '' : ' saturated'} |`,
  );
  return [
    '| target spans/s | offered | accepted spans/s | calls/s | MB/s | p50 ms | p99 ms | 429 / 503 | client drops | RSS MB (max) | cores collector | collector CPU µs/span | cores Kafka | cores clients | cores others | joiner lag (calls) | |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows,
  ].join('\n');
}

function shareLines(title: string, items: readonly Share[]): string {
  return [
    `${title}:`,
    ...items.map((s) => `  ${s.percent.toFixed(1).padStart(5)}%  ${s.name}`),
  ].join('\n');
}

/** Per target rate, the median of each figure over the runs that reached it. */
export function medianSteps(runs: readonly RunResult[]): StepResult[] {
  const rates = [...new Set(runs.flatMap((r) => r.steps.map((s) => s.targetSpansPerSecond)))];
  return rates.map((rate) =>
    medians(runs.flatMap((r) => r.steps.filter((s) => s.targetSpansPerSecond === rate))),
  );
}

/** The highest step that held, below the first that did not. */
export function kneeOf(steps: readonly StepResult[]): StepResult | undefined {
  let knee: StepResult | undefined;
  for (const step of steps) {
    if (!holds(step)) break;
    knee = step;
  }
  return knee;
}

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
  readonly kafka: string;
  /** 1, 5 and 15 minute load averages (`uptime`). */
  readonly loadAtStart: readonly number[];
  readonly loadAtEnd: readonly number[];
}

export interface Profiled {
  readonly rate: number;
  readonly step: StepResult | undefined;
  readonly summary: ProfileSummary;
}

export function reportText(
  machine: Machine,
  options: BenchOptions,
  runs: readonly RunResult[],
  profile: Profiled | undefined,
): string {
  const steps = medianSteps(runs);
  const knee = kneeOf(steps);
  const lossless = runs.every((r) => r.verification.lostSpans + r.verification.lostCalls === 0);
  const slo = [...steps].reverse().find((s) => holds(s) && s.p99Ms < 50);
  const load = (averages: readonly number[]) => averages.map((l) => l.toFixed(2)).join(' ');
  const lines = [
    `## Collector ingest: ${machine.cpu} × ${String(machine.cores)}, ${machine.memoryGiB.toFixed(0)} GiB, Node ${machine.node}, Kafka ${machine.kafka}`,
    '',
    `${
      options.edgeOnly
        ? 'Edge only: OTLP/HTTP edge and ingest publishing fragments; joiner and archive replaced by idle stand-ins.'
        : 'The collector as deployed: OTLP/HTTP edge and ingest, joiner and call archive in one process.'
    } ${String(options.clients)} clients (OTel JS SDK, BatchSpanProcessor ${String(options.batch)} / ${String(options.queue)} / ${String(options.delayMs)} ms, OTLP/HTTP protobuf), ` +
      `traces of 1 agent span + ${String(options.chatsPerTrace)} chat spans with ~${String(options.chatBytes)} B of content, ${String(100 * options.piiShare)}% of messages from the PII corpus; ` +
      `${String(options.warmupSeconds)} s warm-up + ${String(options.stepSeconds)} s measured per step; medians of ${String(runs.length)} runs; ` +
      `load average ${load(machine.loadAtStart)} at the start, ${load(machine.loadAtEnd)} at the end.`,
    '',
    table(steps),
    '',
    `Knee (the last step before client drops, refusals or failures): ${
      knee === undefined
        ? 'none, the first step already saturated'
        : `${fixed(knee.acceptedSpansPerSecond)} spans/s (${fixed(knee.acceptedCallsPerSecond)} calls/s), ` +
          `${fixed(knee.megabytesPerSecond, 1)} MB/s, p50 ${fixed(knee.p50Ms)} ms, p99 ${fixed(knee.p99Ms)} ms, ` +
          `collector RSS ${fixed(knee.rssMaxMb)} MB, ${fixed(knee.collectorCpuUsPerSpan)} µs of collector CPU per span`
    }.`,
    `Collector RSS when ready, before any load: ${runs.map((r) => fixed(r.collectorIdleRssMb)).join(', ')} MB; most seen: ${runs.map((r) => fixed(r.collectorPeakRssMb)).join(', ')} MB.`,
    `Highest step with p99 < 50 ms: ${slo === undefined ? 'none' : `${fixed(slo.acceptedSpansPerSecond)} spans/s (p99 ${fixed(slo.p99Ms)} ms)`}.`,
    `Loss: ${lossless ? 'none' : 'SPANS OR CALLS LOST'}. ` +
      runs
        .map((r, i) => `Run ${String(i + 1)}: ${describeVerification(r.verification)}.`)
        .join(' '),
    `Target ≥ 10,000 spans/s with p99 < 50 ms and zero loss: ${
      knee !== undefined && knee.acceptedSpansPerSecond >= 10_000 && knee.p99Ms < 50 && lossless
        ? 'met'
        : 'not met'
    }.`,
  ];
  if (profile !== undefined) {
    const { summary } = profile;
    lines.push(
      '',
      `CPU profile of the collector at ${String(profile.rate)} spans/s ` +
        `(${profile.step ? describeStep(profile.step) : 'no step'}); ` +
        `in the measured window busy ${fixed(summary.busyMs / 1000, 1)} s, idle ${fixed(summary.idleMs / 1000, 1)} s:`,
      shareLines('By area (self time)', summary.byArea),
      shareLines(
        'By the project module on the stack (own code with the npm code it calls)',
        summary.byOwnCode,
      ),
      shareLines('Top functions (self time)', summary.topFunctions),
      shareLines(
        'Project functions by total time (with everything they call)',
        summary.ownFunctionsTotal,
      ),
    );
  }
  return lines.join('\n');
}
