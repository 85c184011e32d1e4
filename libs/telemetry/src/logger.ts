import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import {
  pino,
  type DestinationStream,
  type LevelWithSilent,
  type Logger as PinoLogger,
} from 'pino';
import { redactSecrets } from './redact.js';

/**
 * The logging surface libraries depend on: structured fields first, message second (pino's
 * order), so a library never needs to know which logger backs it.
 */
export interface Logger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  readonly level?: LevelWithSilent;
  /** Where lines go; stdout by default. Tests pass a stream to read them back. */
  readonly destination?: DestinationStream;
}

/**
 * The {@link Logger} view of a pino logger. pino runs the bindings formatter for the root logger
 * only, so child bindings are censored here.
 */
function facade(logger: PinoLogger): Logger {
  return {
    debug: logger.debug.bind(logger),
    info: logger.info.bind(logger),
    warn: logger.warn.bind(logger),
    error: logger.error.bind(logger),
    child: (bindings) => facade(logger.child(redactSecrets(bindings))),
  };
}

/**
 * JSON lines with the service name and, inside a span, its trace and span ids. Secrets are
 * censored by field name at any depth (see redact.ts), so a careless `logger.info({ config })`
 * cannot leak them.
 */
export function createLogger(service: string, options: LoggerOptions = {}): Logger {
  const logger = pino(
    {
      level: options.level ?? 'info',
      base: { service },
      messageKey: 'message',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: redactSecrets,
      },
      mixin() {
        const spanContext = trace.getSpan(context.active())?.spanContext();
        return spanContext && isSpanContextValid(spanContext)
          ? { trace_id: spanContext.traceId, span_id: spanContext.spanId }
          : {};
      },
    },
    options.destination,
  );
  return facade(logger);
}

/** A logger that drops everything, for tests and for libraries used without one. */
export const silentLogger: Logger = facade(pino({ level: 'silent' }));
