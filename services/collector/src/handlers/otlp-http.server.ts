import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { InjectConfig } from '@understudy/service';
import type { Logger } from '@understudy/telemetry';
import { InjectLogger } from '@understudy/telemetry/nest';
import type { CollectorConfig } from '../config.js';
import { listen, type HttpListener } from '../drivers/http-server.js';
import { OtlpHttpHandler } from './otlp-http.js';

/** How long exports in flight may take to finish once shutdown began. */
const drainMs = 10_000;

/**
 * The OTLP/HTTP listener in Nest's lifecycle: it opens once everything else (the Kafka producer
 * first) is up, and stops taking exports at module destroy, before the producer disconnects.
 */
@Injectable()
export class OtlpHttpServer implements OnApplicationBootstrap, OnModuleDestroy {
  private listener: HttpListener | undefined;

  constructor(
    @Inject(OtlpHttpHandler) private readonly handler: OtlpHttpHandler,
    @InjectConfig() private readonly config: CollectorConfig,
    @InjectLogger() private readonly logger: Logger,
  ) {}

  /** The bound port (useful with port 0). */
  get port(): number | undefined {
    return this.listener?.port;
  }

  async onApplicationBootstrap(): Promise<void> {
    const { host, port } = this.config.otlpHttp;
    this.listener = await listen(host, port, this.handler.handle, this.logger);
    this.logger.info({ host, port: this.listener.port }, 'OTLP/HTTP listening');
  }

  async onModuleDestroy(): Promise<void> {
    await this.listener?.close(drainMs);
  }
}
