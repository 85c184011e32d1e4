import {
  Inject,
  Injectable,
  Module,
  SetMetadata,
  type DynamicModule,
  type InjectionToken,
  type ModuleMetadata,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { DiscoveryModule, DiscoveryService, Reflector } from '@nestjs/core';
import type { DescService } from '@bufbuild/protobuf';
import { GrpcServer, type GrpcServerOptions } from '../server.js';
import type { ServiceImpl } from '../service-impl.js';

const SERVICE = Symbol('understudy.grpc.service');

/**
 * Marks a provider as the implementation of a gRPC service; the class implements
 * `ServiceImpl<typeof Service>` and is registered on the module's server at boot.
 */
export const GrpcService = (service: DescService): ClassDecorator => SetMetadata(SERVICE, service);

export interface GrpcModuleAsyncOptions {
  readonly imports?: ModuleMetadata['imports'];
  readonly inject?: InjectionToken[];
  /** Builds the server options, typically from the service's validated config. */
  readonly useFactory: (...dependencies: never[]) => GrpcServerOptions | Promise<GrpcServerOptions>;
}

/**
 * Serves every `@GrpcService` provider once the application has bootstrapped, and stops taking
 * calls first when it closes (module destroy, before producers and stores shut down).
 */
@Injectable()
class GrpcLifecycle implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(GrpcServer) private readonly server: GrpcServer,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const wrapper of this.discovery.getProviders()) {
      // Nest types provider instances as `any`.
      const instance: unknown = wrapper.instance;
      const metatype: unknown = wrapper.metatype;
      if (typeof metatype !== 'function' || typeof instance !== 'object' || instance === null) {
        continue;
      }
      const service = this.reflector.get<DescService | undefined>(SERVICE, metatype);
      if (service === undefined) continue;
      this.server.register(service, bindMethods(service, instance));
    }
    await this.server.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.server.shutdown();
  }
}

/** The provider's methods with `this` bound, one per RPC of the service. */
function bindMethods<S extends DescService>(service: S, instance: object): ServiceImpl<S> {
  const methods = instance as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(service.method).map((name) => {
      const method = methods[name];
      if (typeof method !== 'function') {
        throw new TypeError(
          `${instance.constructor.name} does not implement ${service.typeName}.${name}`,
        );
      }
      return [name, (method as (...args: unknown[]) => unknown).bind(instance)];
    }),
  ) as ServiceImpl<S>;
}

@Module({})
export class GrpcModule {
  /** Global: any module can inject the GrpcServer (its port, its health statuses). */
  static forRootAsync(options: GrpcModuleAsyncOptions): DynamicModule {
    return {
      module: GrpcModule,
      global: true,
      imports: [DiscoveryModule, ...(options.imports ?? [])],
      providers: [
        {
          provide: GrpcServer,
          inject: options.inject ?? [],
          useFactory: async (...dependencies: never[]) =>
            new GrpcServer(await options.useFactory(...dependencies)),
        },
        GrpcLifecycle,
      ],
      exports: [GrpcServer],
    };
  }
}
