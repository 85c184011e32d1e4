export {
  HealthRegistry,
  type CheckReport,
  type CheckResult,
  type HealthRegistryOptions,
  type ReadinessCheck,
  type ReadinessReport,
} from './health.js';
export { createLogger, silentLogger, type Logger, type LoggerOptions } from './logger.js';
export {
  startOpsServer,
  type OpsServer,
  type OpsServerDependencies,
  type OpsServerOptions,
} from './ops-server.js';
export { isSecretName, redactSecrets } from './redact.js';
export { recordFailure, withSpan, type WithSpanOptions } from './span.js';
export { startTelemetry, type Telemetry, type TelemetryOptions } from './telemetry.js';
