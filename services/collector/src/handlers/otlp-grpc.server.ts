import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { GrpcServer } from '@understudy/grpc';
import { InjectConfig } from '@understudy/service';
import type { Logger } from '@understudy/telemetry';
import { InjectLogger } from '@understudy/telemetry/nest';
import type { CollectorConfig } from '../config.js';
import { OtlpGrpcHandler } from './otlp-grpc.js';

/** How long exports in flight may take to finish once shutdown began. */
const drainMs = 10_000;

/**
 * The OTLP/gRPC listener in Nest's lifecycle: it opens once everything else is up, and stops
 * taking exports at module destroy, before the Kafka producer disconnects.
 */
@Injectable()
export class OtlpGrpcServer implements OnApplicationBootstrap, OnModuleDestroy {
  private server: GrpcServer | undefined;
  private boundPort: number | undefined;

  constructor(
    @Inject(OtlpGrpcHandler) private readonly handler: OtlpGrpcHandler,
    @InjectConfig() private readonly config: CollectorConfig,
    @InjectLogger() private readonly logger: Logger,
  ) {}

  /** The bound port (useful with port 0). */
  get port(): number | undefined {
    return this.boundPort;
  }

  async onApplicationBootstrap(): Promise<void> {
    const { host, port } = this.config.otlpGrpc;
    this.server = this.handler.createServer({
      host,
      port,
      logger: this.logger,
      shutdownTimeoutMs: drainMs,
    });
    this.boundPort = await this.server.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.server?.shutdown();
  }
}
