import 'reflect-metadata';
import { Inject, Module, type DynamicModule, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  describeConfig,
  loadConfigs,
  type ConfigOf,
  type ConfigShape,
  type Environment,
} from '@understudy/config';
import { UnderstudyError } from '@understudy/errors';
import { createLogger, startTelemetry, type Telemetry } from '@understudy/telemetry';
import { NestLogger, TelemetryModule } from '@understudy/telemetry/nest';
import type { SharedDrivers } from './infrastructure.js';
import { commonSettings } from './settings.js';

/** A service's own config and the common one, side by side. */
export type ServiceConfig<S extends ConfigShape> = ConfigOf<S> & ConfigOf<typeof commonSettings>;

/** What makes a service: its name, its settings, and its root module built from its config. */
export interface ServiceDefinition<S extends ConfigShape> {
  readonly name: string;
  readonly version: string;
  /** The service's own settings; `commonSettings` are added to them. */
  readonly settings: S;
  /** `shared` holds the host's drivers when several services share a process (else empty). */
  readonly module: (
    config: ServiceConfig<S>,
    telemetry: Telemetry,
    shared: SharedDrivers,
  ) => DynamicModule;
}

export interface RunningService<S extends ConfigShape> {
  readonly app: INestApplicationContext;
  readonly config: ServiceConfig<S>;
  readonly telemetry: Telemetry;
  /**
   * Two-phase stop: readiness fails and intake stops (gRPC, consumers drain) at module destroy,
   * producers and stores close at application shutdown, telemetry flushes last. Gives up after
   * `shutdownTimeoutMs`. Idempotent.
   */
  stop(): Promise<void>;
}

export interface StartOptions {
  /**
   * Telemetry already started in this process (the embedded platform, end-to-end tests run
   * several services in one process, and OpenTelemetry is process-wide). The service logs
   * through a child logger named after it and leaves the shared telemetry running when it stops.
   */
  readonly telemetry?: Telemetry;
  /** The host's bus and object store, used instead of the service's Kafka and S3 settings. */
  readonly drivers?: SharedDrivers;
}

/** A service's view of telemetry shared with others: its own logger, no shutdown of its own. */
function sharedTelemetry(shared: Telemetry, service: string): Telemetry {
  return {
    ...shared,
    logger: shared.logger.child({ service }),
    health: shared.health.scoped(service),
    shutdown: () => Promise.resolve(),
  };
}

/** DI token of the service's validated, frozen config. */
export const CONFIG = Symbol('understudy.Config');
export const InjectConfig = (): PropertyDecorator & ParameterDecorator => Inject(CONFIG);

/** Loads the config (every bad variable reported at once), starts telemetry, then the app. */
export async function startService<S extends ConfigShape>(
  definition: ServiceDefinition<S>,
  env: Environment = process.env,
  options: StartOptions = {},
): Promise<RunningService<S>> {
  const [own, common] = loadConfigs([definition.settings, commonSettings], env);
  const config: ServiceConfig<S> = { ...own, ...common };
  Object.freeze(config);
  const telemetry =
    options.telemetry === undefined
      ? await startTelemetry({
          serviceName: definition.name,
          serviceVersion: definition.version,
          logger: createLogger(definition.name, { level: common.logLevel }),
          ops: common.ops,
          ...(common.otlpEndpoint !== undefined && { otlpEndpoint: common.otlpEndpoint }),
        })
      : sharedTelemetry(options.telemetry, definition.name);
  const { logger } = telemetry;
  const described = {
    ...describeConfig(definition.settings, own),
    ...describeConfig(commonSettings, common),
  };
  logger.info({ config: described }, `starting ${definition.name}`);

  @Module({})
  class ServiceRoot {}
  const root: DynamicModule = {
    module: ServiceRoot,
    global: true,
    imports: [
      TelemetryModule.forRoot(telemetry, { owned: options.telemetry === undefined }),
      definition.module(config, telemetry, options.drivers ?? {}),
    ],
    providers: [{ provide: CONFIG, useValue: config }],
    exports: [CONFIG],
  };

  let app: INestApplicationContext;
  try {
    app = await NestFactory.createApplicationContext(root, {
      bufferLogs: true,
      abortOnError: false,
    });
    app.useLogger(app.get(NestLogger));
  } catch (error) {
    logger.error({ err: error }, `${definition.name} failed to start`);
    await telemetry.shutdown();
    throw error;
  }
  logger.info({}, `${definition.name} started`);

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      logger.info({}, `stopping ${definition.name}`);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`shutdown took longer than ${String(common.shutdownTimeoutMs)} ms`));
        }, common.shutdownTimeoutMs);
      });
      try {
        // app.close() runs the telemetry module's hooks: readiness first, flush last.
        await Promise.race([app.close(), timeout]);
      } finally {
        clearTimeout(timer);
      }
    })();
    return stopping;
  };
  return { app, config, telemetry, stop };
}

/**
 * The whole life of a service process: a bad environment exits 2 with every problem named and no
 * stack trace; a failed start exits 1; SIGTERM or SIGINT stops gracefully and exits 0 (1 if
 * the stop fails or times out); a second signal exits at once.
 */
export async function runService<S extends ConfigShape>(
  definition: ServiceDefinition<S>,
): Promise<void> {
  let service: RunningService<S>;
  try {
    service = await startService(definition);
  } catch (error) {
    if (error instanceof UnderstudyError && error.message.startsWith('invalid configuration')) {
      process.stderr.write(`${definition.name}: ${error.message}\n`);
      process.exit(2);
    }
    process.exit(1);
  }
  let signalled = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (signalled) process.exit(1);
      signalled = true;
      service.stop().then(
        () => process.exit(0),
        (error: unknown) => {
          service.telemetry.logger.error({ err: error }, 'stop failed');
          process.exit(1);
        },
      );
    });
  }
}
