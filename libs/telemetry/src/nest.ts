import {
  Inject,
  Module,
  type DynamicModule,
  type LoggerService,
  type OnApplicationShutdown,
  type OnModuleDestroy,
} from '@nestjs/common';
import { HealthRegistry } from './health.js';
import type { Logger } from './logger.js';
import { isPlainObject } from './redact.js';
import type { Telemetry } from './telemetry.js';

/** DI token of the service's {@link Logger} (an interface, so it needs one). */
export const LOGGER = Symbol('understudy.Logger');
/** DI token of the {@link Telemetry} handle. */
export const TELEMETRY = Symbol('understudy.Telemetry');

export const InjectLogger = (): PropertyDecorator & ParameterDecorator => Inject(LOGGER);

type Level = 'debug' | 'info' | 'warn' | 'error';

const stackTrace = /\n\s+at /;

/**
 * Nest's `LoggerService` over the service's JSON logger, so framework lines ("Mapped {/x, GET}
 * route", uncaught handler errors) come out as the same JSON as everything else. Nest passes the
 * context as the last string argument and, for errors, a stack trace before it.
 */
export class NestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  private write(level: Level, message: unknown, params: unknown[]): void {
    const fields: Record<string, unknown> = {};
    const rest = params.filter((param) => param !== undefined);
    const last = rest.at(-1);
    if (typeof last === 'string' && !stackTrace.test(last)) {
      fields['context'] = last;
      rest.pop();
    }
    const stack = rest.find((param) => typeof param === 'string' && stackTrace.test(param));
    if (stack !== undefined) {
      fields['stack'] = stack;
      rest.splice(rest.indexOf(stack), 1);
    }
    if (rest.length > 0) fields['params'] = rest;

    if (message instanceof Error) {
      this.logger[level]({ ...fields, err: message }, message.message);
    } else if (isPlainObject(message)) {
      this.logger[level]({ ...message, ...fields });
    } else {
      this.logger[level](fields, String(message));
    }
  }
}

/** Readiness fails as soon as the application starts closing; telemetry is flushed last. */
class TelemetryLifecycle implements OnModuleDestroy, OnApplicationShutdown {
  constructor(private readonly telemetry: Telemetry) {}

  onModuleDestroy(): void {
    this.telemetry.health.setShuttingDown();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.telemetry.shutdown();
  }
}

/**
 * Makes the telemetry handle, its logger (`@InjectLogger()`), the `HealthRegistry` and
 * `NestLogger` injectable everywhere, and ties telemetry to the application's shutdown:
 * `app.close()` (or a signal with `enableShutdownHooks()`) fails readiness first and flushes
 * spans after every other module has stopped.
 */
@Module({})
export class TelemetryModule {
  /**
   * `owned: false` when the telemetry is shared with other applications in the process: closing
   * this one then neither fails readiness nor flushes and stops the shared telemetry.
   */
  static forRoot(telemetry: Telemetry, options: { owned?: boolean } = {}): DynamicModule {
    const lifecycle =
      options.owned === false
        ? []
        : [{ provide: TelemetryLifecycle, useValue: new TelemetryLifecycle(telemetry) }];
    return {
      module: TelemetryModule,
      global: true,
      providers: [
        { provide: TELEMETRY, useValue: telemetry },
        { provide: LOGGER, useValue: telemetry.logger },
        { provide: HealthRegistry, useValue: telemetry.health },
        { provide: NestLogger, useValue: new NestLogger(telemetry.logger) },
        ...lifecycle,
      ],
      exports: [TELEMETRY, LOGGER, HealthRegistry, NestLogger],
    };
  }
}
