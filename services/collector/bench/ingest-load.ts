/**
 * One load client of bench/ingest.ts, run as a child process: an agent exporting GenAI traces
 * through the OpenTelemetry JS SDK as a real one does (TracerProvider, BatchSpanProcessor,
 * OTLP/HTTP protobuf exporter), at the rate the bench asks for. It counts what it offered, what
 * the collector acknowledged, what the SDK dropped, and times every export.
 */
import { Agent, type ClientRequestArgs } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createNoopMeter,
  type Attributes,
  type Meter,
  type MeterProvider,
} from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  TracerProvider,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import { GenAiTraces, schemaUrl } from './ingest-spans.js';
import type {
  FromLoad,
  LoadCounters,
  LoadOptions,
  LoadSnapshot,
  ToLoad,
} from './ingest-protocol.js';

const options = JSON.parse(process.argv[2] ?? '') as LoadOptions;

const counters: LoadCounters = {
  offeredSpans: 0,
  offeredCalls: 0,
  droppedSpans: 0,
  acceptedSpans: 0,
  acceptedCalls: 0,
  failedSpans: 0,
  exports: 0,
  failedExports: 0,
  bytesSent: 0,
  lateTicks: 0,
};
let latenciesMs: number[] = [];
/** Exports handed to the exporter and not yet answered. */
let inFlight = 0;

/** Counts the bytes written to every socket it opens. */
class CountingAgent extends Agent {
  private readonly open = new Set<Socket>();
  private closedBytes = 0;

  override createConnection(
    connectOptions: ClientRequestArgs,
    callback?: (error: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const socket = super.createConnection(connectOptions, callback);
    if (socket instanceof Socket) {
      this.open.add(socket);
      socket.once('close', () => {
        this.open.delete(socket);
        this.closedBytes += socket.bytesWritten;
      });
    }
    return socket;
  }

  get bytesWritten(): number {
    let bytes = this.closedBytes;
    for (const socket of this.open) bytes += socket.bytesWritten;
    return bytes;
  }
}

const isCall = (span: ReadableSpan) => span.attributes['gen_ai.operation.name'] === 'chat';

/** Times each export, from the SDK handing over a batch to the exporter's result. */
class TimedExporter implements SpanExporter {
  private readonly inner: SpanExporter;

  constructor(inner: SpanExporter) {
    this.inner = inner;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    const started = performance.now();
    inFlight += 1;
    this.inner.export(spans, (result) => {
      inFlight -= 1;
      latenciesMs.push(performance.now() - started);
      counters.exports += 1;
      if (result.code === ExportResultCode.SUCCESS) {
        counters.acceptedSpans += spans.length;
        counters.acceptedCalls += spans.filter(isCall).length;
      } else {
        counters.failedExports += 1;
        counters.failedSpans += spans.length;
      }
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/**
 * The processor's self-observability metrics (`otel.sdk.processor.span.*`), read directly: the
 * spans it dropped on a full queue, and its queue length.
 */
let queueLength: () => number = () => 0;
const selfObservation: MeterProvider = {
  getMeter(): Meter {
    const meter = createNoopMeter();
    const queue = meter.createObservableUpDownCounter('queue');
    return Object.assign(meter, {
      createCounter: () => ({
        add: (count: number, attributes?: Attributes) => {
          if (attributes?.['error.type'] === 'queue_full') counters.droppedSpans += count;
        },
      }),
      createObservableUpDownCounter: () =>
        Object.assign(queue, {
          addCallback: (callback: (result: { observe: (value: number) => void }) => void) => {
            queueLength = () => {
              let length = 0;
              callback({
                observe: (value) => {
                  length = value;
                },
              });
              return length;
            };
          },
        }),
    });
  },
};

const agent = new CountingAgent({ keepAlive: true });
const provider = new TracerProvider({
  resource: resourceFromAttributes({
    'service.name': options.serviceName,
    'service.version': '1.0.0',
    'deployment.environment.name': 'bench',
  }),
  spanProcessors: [
    new BatchSpanProcessor({
      exporter: new TimedExporter(
        new OTLPTraceExporter({
          url: options.url,
          headers: { authorization: `Bearer ${options.apiKey}` },
          httpAgentOptions: () => agent,
        }),
      ),
      maxExportBatchSize: options.maxExportBatchSize,
      maxQueueSize: options.maxQueueSize,
      scheduledDelayMillis: options.scheduledDelayMillis,
      selfObsMeterProvider: selfObservation,
    }),
  ],
});
const tracer = provider.getTracer('support-agent', '1.0.0', { schemaUrl });
const traces = new GenAiTraces(options, options.seed);

// Pacing: spans are created in whole traces, as many as the rate asks for since the rate was
// set. A client that falls more than a quarter second behind gives up the backlog (and counts
// the tick), so that what it offered is what it could create, not a burst after a stall.
let rate = 0;
let since = performance.now();
let created = 0;
const tickMs = 5;

function tick(): void {
  if (rate === 0) return;
  const due = Math.floor(((performance.now() - since) / 1000) * rate);
  if (due - created > rate / 4) {
    counters.lateTicks += 1;
    created = due - Math.ceil(rate / 4);
  }
  const now = Date.now();
  while (created < due) {
    traces.emit(tracer, now);
    created += traces.spansPerTrace;
    counters.offeredSpans += traces.spansPerTrace;
    counters.offeredCalls += options.chatsPerTrace;
  }
}

function snapshot(): LoadSnapshot {
  const taken = {
    ...counters,
    bytesSent: agent.bytesWritten,
    queued: queueLength(),
    latenciesMs,
  };
  latenciesMs = [];
  return taken;
}

/**
 * Everything queued exported and answered. The SDK's flush gives up on an export after its
 * timeout and may reject; the export still ends (the exporter has its own timeout) and is
 * counted then, so the wait is for that.
 */
async function flushed(): Promise<void> {
  await provider.forceFlush().catch(() => undefined);
  while (inFlight > 0) await sleep(100);
}

function send(message: FromLoad): void {
  process.send?.(message);
}

const timer = setInterval(tick, tickMs);

process.on('message', (message: ToLoad) => {
  switch (message.type) {
    case 'rate':
      rate = message.spansPerSecond;
      since = performance.now();
      created = 0;
      return;
    case 'snapshot':
      send({ type: 'snapshot', id: message.id, snapshot: snapshot() });
      return;
    case 'flush':
      rate = 0;
      void flushed().then(() => {
        send({ type: 'snapshot', id: message.id, snapshot: snapshot() });
      });
      return;
  }
});

// The bench going away, killed or not, ends its clients.
process.on('disconnect', () => {
  clearInterval(timer);
  process.exit(0);
});

send({ type: 'ready' });
