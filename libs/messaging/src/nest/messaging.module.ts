import {
  Inject,
  Injectable,
  Module,
  Optional,
  type DynamicModule,
  type InjectionToken,
  type ModuleMetadata,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { DiscoveryModule, DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import { HealthRegistry } from '@understudy/telemetry';
import type { MessageContext } from '../consumer-runner.js';
import { Messaging, type MessagingOptions } from '../messaging.js';
import { onMessageMetadata } from './on-message.js';

export interface MessagingModuleAsyncOptions {
  readonly imports?: ModuleMetadata['imports'];
  readonly inject?: InjectionToken[];
  /** Builds the options, typically from the service's validated config. */
  readonly useFactory: (...dependencies: never[]) => MessagingOptions | Promise<MessagingOptions>;
}

type BoundHandler = (
  message: MessageShape<DescMessage>,
  context: MessageContext,
) => Promise<void> | void;

/**
 * Ties Messaging to Nest's lifecycle: handlers are discovered and topics and the producer made
 * ready at module init, consumers start once the whole application bootstrapped, consumers drain
 * first at shutdown (module destroy) and the producer goes last (application shutdown). With a
 * HealthRegistry in the application, readiness follows the bus (the `kafka` check).
 */
@Injectable()
class MessagingLifecycle
  implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy, OnApplicationShutdown
{
  constructor(
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(MetadataScanner) private readonly scanner: MetadataScanner,
    @Inject(Messaging) private readonly messaging: Messaging,
    @Optional() @Inject(HealthRegistry) private readonly health?: HealthRegistry,
  ) {}

  private unregister: (() => void) | undefined;

  async onModuleInit(): Promise<void> {
    this.discover();
    await this.messaging.connect();
    this.unregister = this.health?.register('kafka', () =>
      Promise.resolve(this.messaging.health()),
    );
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.messaging.consumers.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.messaging.consumers.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    this.unregister?.();
    await this.messaging.stop();
  }

  private discover(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const instance: unknown = wrapper.instance;
      // Request-scoped providers have no single instance to call.
      if (typeof instance !== 'object' || instance === null || !wrapper.isDependencyTreeStatic()) {
        continue;
      }
      const methods = instance as Record<string, unknown>;
      for (const name of this.scanner.getAllMethodNames(
        Object.getPrototypeOf(instance) as object,
      )) {
        const method = methods[name];
        if (typeof method !== 'function') continue;
        for (const { topic, options } of onMessageMetadata(method)) {
          const handler = method as BoundHandler;
          this.messaging.on(topic, options, (message, context) =>
            handler.call(instance, message, context),
          );
        }
      }
    }
  }
}

@Module({})
export class MessagingModule {
  static forRoot(options: MessagingOptions): DynamicModule {
    return MessagingModule.forRootAsync({ useFactory: () => options });
  }

  /** Global: every module can inject Messaging to publish; handlers are found in every module. */
  static forRootAsync(options: MessagingModuleAsyncOptions): DynamicModule {
    return {
      module: MessagingModule,
      global: true,
      imports: [DiscoveryModule, ...(options.imports ?? [])],
      providers: [
        {
          provide: Messaging,
          inject: options.inject ?? [],
          useFactory: async (...dependencies: never[]) =>
            new Messaging(await options.useFactory(...dependencies)),
        },
        MessagingLifecycle,
      ],
      exports: [Messaging],
    };
  }
}
