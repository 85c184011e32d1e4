import { PassThrough, type Readable } from 'node:stream';
import {
  metrics,
  SpanKind,
  SpanStatusCode,
  trace,
  type Counter,
  type Histogram,
  type Span,
} from '@opentelemetry/api';
import type { UnderstudyError } from '@understudy/errors';
import { discard } from './bytes.js';
import type { PutResult } from './object-store.js';

export type Operation = 'init' | 'put' | 'get' | 'stat' | 'delete' | 'list';

/** Turns whatever a backend threw into the codebase's error vocabulary. */
export type ErrorMapper = (error: unknown) => UnderstudyError;

const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/**
 * Spans, operation durations and byte counts for one driver, plus the error mapping every
 * operation goes through. Instruments are created per driver instance, not at import, because
 * the API hands out no-op meters until the telemetry SDK is installed.
 */
export class Instruments {
  readonly #driver: string;
  readonly #toError: ErrorMapper;
  readonly #duration: Histogram;
  readonly #written: Counter;
  readonly #read: Counter;
  readonly #tracer = trace.getTracer('understudy.storage');
  readonly #spanKind: SpanKind;

  constructor(driver: string, toError: ErrorMapper, remote: boolean) {
    this.#driver = driver;
    this.#toError = toError;
    this.#spanKind = remote ? SpanKind.CLIENT : SpanKind.INTERNAL;
    const meter = metrics.getMeter('understudy.storage');
    this.#duration = meter.createHistogram('understudy.storage.operation.duration', {
      description: 'Duration of object store operations; for get, until the body starts to flow.',
      unit: 's',
      advice: { explicitBucketBoundaries: durationBuckets },
    });
    this.#written = meter.createCounter('understudy.storage.bytes.written', {
      description: 'Bytes stored by successful puts.',
      unit: 'By',
    });
    this.#read = meter.createCounter('understudy.storage.bytes.read', {
      description: 'Bytes delivered to readers of objects.',
      unit: 'By',
    });
  }

  /** Runs one operation inside a span, records its duration and outcome, and maps its failure. */
  async measure<T>(
    operation: Operation,
    key: string | undefined,
    run: () => Promise<T>,
  ): Promise<T> {
    const attributes = this.#attributes(operation);
    if (key !== undefined) attributes['storage.key'] = key;
    return this.#tracer.startActiveSpan(
      `storage ${operation}`,
      { kind: this.#spanKind, attributes },
      async (span) => {
        const started = performance.now();
        try {
          const result = await run();
          this.#end(span, operation, started);
          return result;
        } catch (error) {
          const mapped = this.#toError(error);
          this.#end(span, operation, started, mapped);
          throw mapped;
        }
      },
    );
  }

  /** Measures a listing from its first page to its end (or to the consumer breaking off). */
  async *measureList<T>(prefix: string, entries: AsyncIterable<T>): AsyncGenerator<T> {
    const span = this.#tracer.startSpan('storage list', {
      kind: this.#spanKind,
      attributes: { ...this.#attributes('list'), 'storage.prefix': prefix },
    });
    const started = performance.now();
    let outcome: UnderstudyError | undefined;
    try {
      yield* entries;
    } catch (error) {
      outcome = this.#toError(error);
      throw outcome;
    } finally {
      // Also reached when the consumer stops early, which counts as a success.
      this.#end(span, 'list', started, outcome);
    }
  }

  /**
   * A put, measured like any operation, counting the bytes stored; on failure the body stream
   * it did not finish reading is torn down so its file or socket is released.
   */
  measurePut(
    key: string,
    body: Buffer | Readable,
    write: () => Promise<PutResult>,
  ): Promise<PutResult> {
    return this.measure('put', key, async () => {
      try {
        const result = await write();
        this.#written.add(result.size, { 'storage.driver': this.#driver });
        return result;
      } catch (error) {
        discard(body);
        throw error;
      }
    });
  }

  /**
   * The body handed to callers: counts bytes read and maps backend failures in mid-stream, so
   * a connection lost while reading surfaces as a retryable error like any other.
   */
  reader(source: Readable): Readable {
    const body = new PassThrough();
    const attributes = { 'storage.driver': this.#driver };
    source.on('data', (chunk: Buffer) => {
      this.#read.add(chunk.length, attributes);
    });
    source.on('error', (error) => body.destroy(this.#toError(error)));
    // A caller that stops reading early releases the file or connection.
    body.on('close', () => source.destroy());
    source.pipe(body);
    return body;
  }

  #attributes(operation: Operation): Record<string, string> {
    return { 'storage.driver': this.#driver, 'storage.operation': operation };
  }

  #end(span: Span, operation: Operation, started: number, error?: UnderstudyError): void {
    const attributes = this.#attributes(operation);
    if (error !== undefined) {
      attributes['error.type'] = error.code;
      span.setAttribute('error.type', error.code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    }
    this.#duration.record((performance.now() - started) / 1000, attributes);
    span.end();
  }
}
