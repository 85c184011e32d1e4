import { Injectable, Module } from '@nestjs/common';
import { create } from '@bufbuild/protobuf';
import { env, setting } from '@understudy/config';
import {
  CallCapturedSchema,
  EventMetaSchema,
  Health,
  HealthCheckResponse_ServingStatus,
  LlmCallSchema,
  type CallCaptured,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { createClient, GrpcModule, GrpcServer } from '@understudy/grpc';
import {
  InProcessDriver,
  Messaging,
  MessagingModule,
  OnMessage,
  topics,
} from '@understudy/messaging';
import { silentLogger, startTelemetry } from '@understudy/telemetry';
import { describe, expect, it } from 'vitest';
import { grpcServerOptions } from './grpc.js';
import { grpcSettings } from './settings.js';
import {
  InjectConfig,
  startService,
  type ServiceConfig,
  type ServiceDefinition,
} from './service.js';

const settings = {
  grpc: grpcSettings,
  greeting: setting('PROBE_GREETING', env.text()),
};
type ProbeConfig = ServiceConfig<typeof settings>;

const baseEnv = {
  PROBE_GREETING: 'hello',
  UNDERSTUDY_OPS_HOST: '127.0.0.1',
  UNDERSTUDY_OPS_PORT: '0',
  UNDERSTUDY_GRPC_HOST: '127.0.0.1',
  UNDERSTUDY_GRPC_PORT: '0',
  UNDERSTUDY_LOG_LEVEL: 'silent',
};

@Injectable()
class Recorder {
  readonly seen: string[] = [];

  constructor(@InjectConfig() private readonly config: ProbeConfig) {}

  @OnMessage(topics.callsCaptured, { group: 'probe' })
  record(event: CallCaptured): void {
    this.seen.push(`${this.config.greeting} ${event.call?.callId ?? ''}`);
  }
}

function probe(onInit?: () => void, name = 'probe'): ServiceDefinition<typeof settings> {
  return {
    name,
    version: '0.0.0',
    settings,
    module: (config) => {
      @Module({
        imports: [
          MessagingModule.forRoot({ driver: new InProcessDriver(), producerName: 'probe' }),
          GrpcModule.forRootAsync({ useFactory: () => grpcServerOptions(config.grpc) }),
        ],
        providers: [Recorder, { provide: 'init', useFactory: () => onInit?.() ?? true }],
      })
      class ProbeModule {}
      return { module: ProbeModule };
    },
  };
}

describe('startService', () => {
  it('names every bad variable, shared and own, before starting anything', async () => {
    const attempt = startService(probe(), { UNDERSTUDY_OPS_PORT: 'x' });
    await expect(attempt).rejects.toThrow(UnderstudyError);
    await expect(attempt).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
      details: { variables: ['PROBE_GREETING', 'UNDERSTUDY_OPS_PORT'] },
    });
  });

  it('boots config, telemetry, gRPC and consumers, and stops them in order', async () => {
    const service = await startService(probe(), baseEnv);
    const ops = service.telemetry.ops.url;
    const address = `127.0.0.1:${String(service.app.get(GrpcServer).port)}`;
    try {
      expect(service.config.greeting).toBe('hello');
      expect(Object.isFrozen(service.config)).toBe(true);
      expect((await fetch(`${ops}/readyz`)).status).toBe(200);

      const health = createClient(Health, address);
      expect((await health.check({ service: '' })).status).toBe(
        HealthCheckResponse_ServingStatus.SERVING,
      );
      health.close();

      await service.app.get(Messaging).publish(
        topics.callsCaptured,
        create(CallCapturedSchema, {
          meta: create(EventMetaSchema, { eventId: 'e-1', tenantId: 't' }),
          call: create(LlmCallSchema, { tenantId: 't', callId: 'c-1' }),
        }),
      );
      await expect.poll(() => service.app.get(Recorder).seen).toEqual(['hello c-1']);
    } finally {
      await service.stop();
    }
    await service.stop();
    await expect(fetch(`${ops}/healthz`)).rejects.toThrow();
    await expect(
      createClient(Health, address, { timeoutMs: 500 }).check({ service: '' }),
    ).rejects.toMatchObject({ code: ErrorCode.Unavailable });
  });

  it('releases telemetry when the application fails to start', async () => {
    const failing = probe(() => {
      throw new UnderstudyError(ErrorCode.Unavailable, 'dependency down');
    });
    await expect(startService(failing, baseEnv)).rejects.toThrow('dependency down');
    // Telemetry is process-wide: a second start only works if the first one was shut down.
    const service = await startService(probe(), baseEnv);
    await service.stop();
  });

  it('shares one telemetry between services in one process', async () => {
    const shared = await startTelemetry({
      serviceName: 'platform',
      serviceVersion: '0.0.0',
      logger: silentLogger,
      ops: { host: '127.0.0.1', port: 0 },
    });
    try {
      // Two services, as the embedded platform runs them: each has its own readiness checks.
      const first = await startService(probe(), baseEnv, { telemetry: shared });
      const second = await startService(probe(undefined, 'probe-2'), baseEnv, {
        telemetry: shared,
      });
      expect(first.telemetry.ops.url).toBe(shared.ops.url);
      await first.stop();
      // The other service and the shared ops server keep running.
      expect((await fetch(`${shared.ops.url}/healthz`)).status).toBe(200);
      const address = `127.0.0.1:${String(second.app.get(GrpcServer).port)}`;
      const health = createClient(Health, address);
      expect((await health.check({ service: '' })).status).toBe(
        HealthCheckResponse_ServingStatus.SERVING,
      );
      health.close();
      await second.stop();
    } finally {
      await shared.shutdown();
    }
  });
});
