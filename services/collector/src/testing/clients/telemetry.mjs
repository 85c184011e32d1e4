// What every client program shares: the OpenTelemetry SDK, set up from the standard OTEL_*
// variables as a real agent's would be, and the program's small environment contract.
//
// The programs run as plain `node` child processes, so that each instrumentation patches a
// fresh module graph. Environment:
//   OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf, http/json, grpc),
//   OTEL_EXPORTER_OTLP_HEADERS (e.g. `authorization=Bearer <key>`)   standard SDK settings
//   FAKE_OPENAI_BASE_URL   the OpenAI-compatible server, ending in /v1
//   CAPTURE_CONTENT        `false` to run the agent with message content capture off
// Each program prints one JSON line on stdout: the trace id of every scenario it ran.
import { diag, DiagLogLevel, trace } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';

export const serviceName = 'travel-agent';

export function captureContent() {
  return process.env.CAPTURE_CONTENT !== 'false';
}

export function fakeOpenAiBaseUrl() {
  const url = process.env.FAKE_OPENAI_BASE_URL;
  if (!url) throw new Error('FAKE_OPENAI_BASE_URL is not set');
  return url;
}

let exportErrors = 0;

/**
 * Starts the SDK (traces and logs through OTLP, as the OTEL_* variables say; no metrics, which
 * the collector does not take) with the given instrumentations. Call before loading the library
 * that the instrumentations patch.
 */
export function startTelemetry(instrumentations) {
  process.env.OTEL_METRICS_EXPORTER ??= 'none';
  // Export failures surface only through the diagnostic logger: count them, so that a program
  // whose telemetry did not arrive exits non-zero instead of looking successful.
  diag.setLogger(
    {
      error: (...args) => {
        exportErrors += 1;
        console.error('[otel error]', ...args);
      },
      warn: (...args) => console.error('[otel warn]', ...args),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    DiagLogLevel.WARN,
  );
  const sdk = new NodeSDK({ serviceName, autoDetectResources: false, instrumentations });
  sdk.start();
  return sdk;
}

export function tracer(name) {
  return trace.getTracer(name, '0.1.0');
}

/** Runs `fn` in a new active span that ends when `fn` settles, recording a failure on it. */
export function inSpan(tracerInstance, name, options, fn) {
  return tracerInstance.startActiveSpan(name, options, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      span.recordException(error);
      span.setStatus({ code: 2, message: String(error?.message ?? error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Flushes and stops the SDK, then prints the scenario → trace id map and sets the exit code. */
export async function finish(sdk, traces) {
  await sdk.shutdown();
  process.stdout.write(`${JSON.stringify({ traces })}\n`);
  if (exportErrors > 0) process.exitCode = 1;
}
