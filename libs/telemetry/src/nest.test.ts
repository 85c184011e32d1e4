import { Inject, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { afterEach, describe, expect, it } from 'vitest';
import { HealthRegistry } from './health.js';
import { createLogger, type Logger } from './logger.js';
import { InjectLogger, LOGGER, NestLogger, TELEMETRY, TelemetryModule } from './nest.js';
import { startTelemetry, type Telemetry } from './telemetry.js';

type Line = Record<string, unknown>;

function capture(): { lines: Line[]; logger: Logger } {
  const lines: Line[] = [];
  const logger = createLogger('gateway', {
    level: 'debug',
    destination: { write: (line: string) => lines.push(JSON.parse(line) as Line) },
  });
  return { lines, logger };
}

@Injectable()
class Consumer {
  constructor(
    @InjectLogger() readonly logger: Logger,
    @Inject(HealthRegistry) readonly health: HealthRegistry,
  ) {
    health.register('consumer', () => Promise.resolve({ healthy: true }));
  }
}

@Module({ providers: [Consumer] })
class FeatureModule {}

let telemetry: Telemetry | undefined;

afterEach(async () => {
  await telemetry?.shutdown();
  telemetry = undefined;
});

describe('TelemetryModule', () => {
  it('injects the logger and health registry and routes Nest logs as JSON', async () => {
    const { lines, logger } = capture();
    telemetry = await startTelemetry({
      serviceName: 'gateway',
      serviceVersion: '0.1.0',
      logger,
      ops: { host: '127.0.0.1', port: 0 },
    });
    @Module({ imports: [TelemetryModule.forRoot(telemetry), FeatureModule] })
    class AppModule {}
    // Nest's documented pattern: buffer boot logs until the JSON logger is resolved from DI.
    const app = await NestFactory.createApplicationContext(AppModule, { bufferLogs: true });
    app.useLogger(app.get(NestLogger));

    const consumer = app.get(Consumer);
    expect(consumer.logger).toBe(telemetry.logger);
    expect(consumer.health).toBe(telemetry.health);
    expect(app.get(TELEMETRY)).toBe(telemetry);
    expect(app.get(LOGGER)).toBe(telemetry.logger);
    expect(app.get(NestLogger)).toBeInstanceOf(NestLogger);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'info', context: 'InstanceLoader', service: 'gateway' }),
    );
    expect((await fetch(`${telemetry.ops.url}/readyz`)).status).toBe(200);

    await app.close();
    expect(telemetry.health.shuttingDown).toBe(true);
    await expect(fetch(`${telemetry.ops.url}/healthz`)).rejects.toThrow();
  });
});

describe('NestLogger', () => {
  it('maps Nest call shapes to structured lines', () => {
    const { lines, logger } = capture();
    const nest = new NestLogger(logger);
    const stack = 'Error: boom\n    at handler (/app/x.js:1:1)';

    nest.log('Mapped {/v1/chat, POST} route', 'RouterExplorer');
    nest.error('boom', stack, 'ExceptionsHandler');
    nest.error('no stack', undefined, 'ExceptionsHandler');
    nest.warn({ event: 'slow', ms: 900 }, 'Scheduler');
    nest.error(new Error('failed'), 'Bootstrap');
    nest.verbose('details', 'Loader', 'extra');
    nest.fatal('dying');

    expect(lines.map(({ time, ...rest }) => (time === undefined ? {} : rest))).toEqual([
      {
        level: 'info',
        service: 'gateway',
        context: 'RouterExplorer',
        message: 'Mapped {/v1/chat, POST} route',
      },
      { level: 'error', service: 'gateway', context: 'ExceptionsHandler', stack, message: 'boom' },
      { level: 'error', service: 'gateway', context: 'ExceptionsHandler', message: 'no stack' },
      { level: 'warn', service: 'gateway', event: 'slow', ms: 900, context: 'Scheduler' },
      {
        level: 'error',
        service: 'gateway',
        context: 'Bootstrap',
        err: expect.objectContaining({ type: 'Error', message: 'failed' }) as unknown,
        message: 'failed',
      },
      {
        level: 'debug',
        service: 'gateway',
        params: ['Loader'],
        context: 'extra',
        message: 'details',
      },
      { level: 'error', service: 'gateway', message: 'dying' },
    ]);
  });
});
