import { randomUUID } from 'node:crypto';
import {
  context,
  diag,
  DiagLogLevel,
  logs,
  metrics,
  propagation,
  trace,
  type Attributes,
  type DiagLogger,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import {
  defaultResource,
  hostDetector,
  osDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import { AggregationType, InstrumentType, type ViewOptions } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  AlwaysOnSampler,
  BatchSpanProcessor,
  NoopSpanProcessor,
  ParentBasedSampler,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import {
  ATTR_DEPLOYMENT_ENVIRONMENT_NAME,
  ATTR_SERVICE_INSTANCE_ID,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
} from '@opentelemetry/semantic-conventions';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { HealthRegistry } from './health.js';
import { createLogger, type Logger } from './logger.js';
import { startOpsServer, type OpsServer, type OpsServerOptions } from './ops-server.js';
import { startRuntimeMetrics } from './runtime-metrics.js';

export interface TelemetryOptions {
  readonly serviceName: string;
  readonly serviceVersion: string;
  /** `deployment.environment.name`, e.g. `production`. */
  readonly environment?: string;
  /** `service.instance.id`; a random UUID by default (pod names are reused, UUIDs are not). */
  readonly instanceId?: string;
  /** Extra resource attributes, e.g. `k8s.pod.name` from the downward API. */
  readonly resourceAttributes?: Attributes;
  /**
   * OTLP/HTTP base URL (`http://collector:4318`); spans are sent as protobuf to `<url>/v1/traces`.
   * Without it spans are still created and sampled, so logs carry trace ids, but go nowhere.
   */
  readonly otlpEndpoint?: string;
  /** Logger for the service; one writing JSON to stdout is created when absent. */
  readonly logger?: Logger;
  readonly ops?: OpsServerOptions;
  /** Default timeout of each readiness check, in milliseconds. */
  readonly readinessTimeoutMs?: number;
}

export interface Telemetry {
  readonly logger: Logger;
  readonly health: HealthRegistry;
  readonly ops: OpsServer;
  /**
   * Fails readiness, stops the ops server, flushes pending spans and returns the OpenTelemetry
   * API to its no-op state. Idempotent; never rejects (a failed flush is logged).
   */
  shutdown(): Promise<void>;
}

// The OpenTelemetry API holds one global provider of each kind per process.
let started = false;

/**
 * Durations are recorded in seconds (semantic conventions), but the SDK's default buckets are
 * sized for milliseconds; every histogram in `s` gets buckets from 5 ms (a cache hit) to 10 min
 * (a batch or training step) instead. This view overrides bucket advice on such instruments.
 */
const secondsHistograms: ViewOptions = {
  instrumentType: InstrumentType.HISTOGRAM,
  instrumentUnit: 's',
  aggregation: {
    type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM,
    options: {
      boundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    },
  },
};

function tracesUrl(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/traces`;
    return url.href;
  } catch (error) {
    throw new UnderstudyError(ErrorCode.InvalidArgument, `invalid OTLP endpoint "${endpoint}"`, {
      cause: error,
    });
  }
}

/** Routes the SDK's own diagnostics (failed exports, mostly) into the service's JSON log. */
function diagLogger(logger: Logger): DiagLogger {
  const log =
    (write: (fields: object, message?: string) => void) =>
    (message: string, ...args: unknown[]): void => {
      const err = args.find((arg) => arg instanceof Error);
      const rest = args.filter((arg) => arg !== err);
      write(
        { component: 'opentelemetry', err, ...(rest.length > 0 ? { args: rest } : {}) },
        message,
      );
    };
  return {
    error: log(logger.error.bind(logger)),
    warn: log(logger.warn.bind(logger)),
    info: log(logger.info.bind(logger)),
    debug: log(logger.debug.bind(logger)),
    verbose: log(logger.debug.bind(logger)),
  };
}

/**
 * Installs OpenTelemetry for the process (W3C trace-context and baggage propagation, async
 * context, spans over OTLP, metrics for Prometheus) and starts the ops server with /metrics,
 * /healthz and /readyz. Call once at boot, before anything creates spans or instruments.
 */
export async function startTelemetry(options: TelemetryOptions): Promise<Telemetry> {
  if (started) {
    throw new UnderstudyError(ErrorCode.FailedPrecondition, 'telemetry is already started');
  }
  const otlpUrl = options.otlpEndpoint === undefined ? undefined : tracesUrl(options.otlpEndpoint);
  const logger = options.logger ?? createLogger(options.serviceName);
  const health = new HealthRegistry(
    options.readinessTimeoutMs === undefined ? {} : { timeoutMs: options.readinessTimeoutMs },
  );

  // Prometheus pulls through the ops server instead of the exporter's own server.
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  // Without an exporter the provider still records spans, which is what gives logs trace ids.
  const spanProcessor: SpanProcessor =
    otlpUrl === undefined
      ? new NoopSpanProcessor()
      : new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: otlpUrl }) });
  // Every component is passed explicitly so that OTEL_* variables cannot switch on exporters.
  const sdk = new NodeSDK({
    resource: defaultResource().merge(
      resourceFromAttributes({
        ...options.resourceAttributes,
        [ATTR_SERVICE_NAME]: options.serviceName,
        [ATTR_SERVICE_VERSION]: options.serviceVersion,
        [ATTR_SERVICE_INSTANCE_ID]: options.instanceId ?? randomUUID(),
        ...(options.environment === undefined
          ? {}
          : { [ATTR_DEPLOYMENT_ENVIRONMENT_NAME]: options.environment }),
      }),
    ),
    resourceDetectors: [hostDetector, osDetector],
    contextManager: new AsyncLocalStorageContextManager(),
    textMapPropagator: new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: [spanProcessor],
    metricReaders: [prometheus],
    views: [secondsHistograms],
    logRecordProcessors: [],
  });
  diag.setLogger(diagLogger(logger), DiagLogLevel.WARN);
  sdk.start();
  started = true;
  const stopRuntimeMetrics = startRuntimeMetrics(metrics.getMeter('understudy.telemetry'));

  let ops: OpsServer;
  try {
    ops = await startOpsServer(options.ops ?? {}, {
      health,
      logger,
      metrics: (request, response) => {
        prometheus.getMetricsRequestHandler(request, response);
      },
    });
  } catch (error) {
    stopRuntimeMetrics();
    await uninstall(sdk, logger);
    throw error;
  }
  logger.info(
    { serviceVersion: options.serviceVersion, otlp: otlpUrl ?? 'off', ops: ops.url },
    'telemetry started',
  );

  let stopping: Promise<void> | undefined;
  return {
    logger,
    health,
    ops,
    shutdown() {
      stopping ??= (async () => {
        health.setShuttingDown();
        stopRuntimeMetrics();
        await ops.close();
        await uninstall(sdk, logger);
      })();
      return stopping;
    },
  };
}

async function uninstall(sdk: NodeSDK, logger: Logger): Promise<void> {
  try {
    await sdk.shutdown();
  } catch (error) {
    logger.warn({ err: error }, 'telemetry flush failed');
  }
  for (const api of [trace, metrics, logs, propagation, context, diag]) api.disable();
  started = false;
}
