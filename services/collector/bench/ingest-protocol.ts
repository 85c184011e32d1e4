/** What bench/ingest.ts and its load clients (ingest-load.ts) say to each other over IPC. */

export interface LoadOptions {
  /** OTLP/HTTP traces endpoint, `…/v1/traces`. */
  readonly url: string;
  readonly apiKey: string;
  readonly serviceName: string;
  readonly seed: number;
  readonly chatsPerTrace: number;
  readonly chatBytes: number;
  readonly piiShare: number;
  /** BatchSpanProcessor settings (the SDK defaults are 512, 2048 and 5000). */
  readonly maxExportBatchSize: number;
  readonly maxQueueSize: number;
  readonly scheduledDelayMillis: number;
}

/** Cumulative counts of one client since it started. */
export interface LoadCounters {
  /** Spans ended, and of them LLM calls: what the agent offered. */
  offeredSpans: number;
  offeredCalls: number;
  /** Spans the BatchSpanProcessor dropped because its queue was full. */
  droppedSpans: number;
  /** Spans in exports the collector acknowledged (200), and of them LLM calls. */
  acceptedSpans: number;
  acceptedCalls: number;
  /** Spans in exports that failed for good (after the exporter's own retries). */
  failedSpans: number;
  exports: number;
  failedExports: number;
  /** Bytes written to the collector's sockets: OTLP protobuf bodies and HTTP headers. */
  bytesSent: number;
  /** Ticks in which the client could not create spans as fast as asked (it is CPU-bound). */
  lateTicks: number;
}

export interface LoadSnapshot extends LoadCounters {
  /** Spans in the BatchSpanProcessor's queue now. */
  readonly queued: number;
  /** Duration of every export that ended since the previous snapshot, in ms. */
  readonly latenciesMs: number[];
}

export type ToLoad =
  | { readonly type: 'rate'; readonly spansPerSecond: number }
  | { readonly type: 'snapshot'; readonly id: number }
  /** Stop creating spans and export everything queued, then snapshot. */
  | { readonly type: 'flush'; readonly id: number };

export type FromLoad =
  | { readonly type: 'ready' }
  | { readonly type: 'snapshot'; readonly id: number; readonly snapshot: LoadSnapshot };
