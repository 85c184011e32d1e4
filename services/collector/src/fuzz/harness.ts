import { createGzip, gzipSync } from 'node:zlib';
import type { Logger } from '@understudy/telemetry';
import type { IngestResult } from '../domain/ingest.js';
import { RecordingIngest } from '../edge/testing/fixtures.js';
import { records, type Exported } from './exports.js';

/** What the fuzz targets share: the ingest they export to, what they count and watch. */

/** How often each answer came, for the run's summary line. */
export class Tally {
  readonly #counts = new Map<string, number>();

  add(key: string): void {
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  get keys(): string[] {
    return [...this.#counts.keys()].sort();
  }

  get summary(): string {
    return this.keys.map((key) => `${key}: ${this.#counts.get(key) ?? 0}`).join(', ');
  }
}

/** Spans or log records an ingest would reject: their ids cannot be real. */
function invalidRecords(exported: Exported): number {
  return records(exported).filter(
    ({ traceId, spanId }) => traceId.length !== 16 || spanId.length !== 8,
  ).length;
}

/**
 * A recording ingest that answers a partial success for records without valid ids, as the real
 * one does, so that the answer the transport writes can be checked against what it was given.
 */
export class FuzzIngest extends RecordingIngest {
  /** What the ingest answered the latest export it took. */
  lastAnswer: IngestResult | undefined;

  constructor() {
    super();
    this.answer = () => {
      const latest = this.received.at(-1);
      const rejected = latest === undefined ? 0 : invalidRecords(latest);
      this.lastAnswer = {
        rejected,
        message: rejected > 0 ? `${rejected} records without valid ids` : '',
      };
      return Promise.resolve(this.lastAnswer);
    };
  }

  /** Forgets what it took, so a long run holds no exports. */
  reset(): void {
    this.received.length = 0;
    this.lastAnswer = undefined;
  }
}

/** A logger that keeps what was logged at error level: a fuzz case must log none. */
export function watchingLogger(): Logger & { readonly errors: unknown[] } {
  const errors: unknown[] = [];
  const logger = {
    errors,
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: (fields: object, message?: string) => errors.push({ ...fields, message }),
    child: () => logger,
  };
  return logger;
}

/**
 * A gzip member that inflates to `inflatedBytes` zeros (about 1000 to 1), built a megabyte at a
 * time so that the test itself never holds the inflated bytes.
 */
export async function gzipBomb(inflatedBytes: number): Promise<Buffer> {
  const gzip = createGzip({ level: 9 });
  const chunks: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    gzip.on('end', resolve);
    gzip.on('error', reject);
  });
  const megabyte = Buffer.alloc(1024 * 1024);
  for (let written = 0; written < inflatedBytes; written += megabyte.length) {
    if (!gzip.write(megabyte.subarray(0, Math.min(megabyte.length, inflatedBytes - written)))) {
      await new Promise((resolve) => gzip.once('drain', resolve));
    }
  }
  gzip.end();
  await done;
  return Buffer.concat(chunks);
}

export const gzip = (bytes: Uint8Array): Buffer => gzipSync(bytes);

/**
 * Samples the process' resident and heap memory while `run` runs, and reports the most either
 * grew above where they started.
 */
export async function peakGrowth<T>(
  run: () => Promise<T>,
): Promise<{ result: T; rssBytes: number; heapBytes: number }> {
  const start = process.memoryUsage();
  let rss = start.rss;
  let heap = start.heapUsed + start.arrayBuffers;
  const sample = () => {
    const now = process.memoryUsage();
    rss = Math.max(rss, now.rss);
    heap = Math.max(heap, now.heapUsed + now.arrayBuffers);
  };
  const sampler = setInterval(sample, 2);
  try {
    const result = await run();
    sample();
    return {
      result,
      rssBytes: rss - start.rss,
      heapBytes: heap - start.heapUsed - start.arrayBuffers,
    };
  } finally {
    clearInterval(sampler);
  }
}

/**
 * The failures of a fuzz run, one per kind (the error's message, numbers aside) with the first
 * case that showed it and how many did: a run reports every bug it found, not only the first.
 */
export class Failures {
  readonly #kinds = new Map<string, { example: string; error: string; cases: number }>();

  record(label: string, error: unknown): void {
    const messages: string[] = [];
    for (let cause: unknown = error; cause instanceof Error; cause = cause.cause) {
      messages.push(cause.message);
    }
    const message = messages.join(' ← ') || String(error);
    const kind = message.replace(/-?\d+/g, 'N').slice(0, 300);
    const known = this.#kinds.get(kind);
    if (known === undefined) this.#kinds.set(kind, { example: label, error: message, cases: 1 });
    else known.cases += 1;
  }

  /** Runs one case, recording what it throws. */
  check(label: string, run: () => void): void {
    try {
      run();
    } catch (error) {
      this.record(label, error);
    }
  }

  get found(): string[] {
    return [...this.#kinds.values()].map(
      ({ example, error, cases }) => `${error.slice(0, 500)} — ${cases} case(s), first ${example}`,
    );
  }
}
