import { Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { GrpcModule } from '@understudy/grpc';
import { MessagingModule, topics } from '@understudy/messaging';
import {
  grpcServerOptions,
  messagingDriver,
  minioStore,
  type ServiceConfig,
  type ServiceDefinition,
  type SharedDrivers,
} from '@understudy/service';
import type { Logger } from '@understudy/telemetry';
import { readContentKeys } from '@understudy/tenancy';
import { settings } from './config.js';
import { CallEmbedder } from './domain/call-embedder.js';
import { openBackend } from './drivers/backends.js';
import type { EmbeddingBackend } from './drivers/embedding-backend.js';
import type { StoreOpener } from './drivers/model-files.js';
import { producer } from './events.js';
import { CallCapturedHandler } from './handlers/call-captured.handler.js';
import { EmbedderGrpc } from './handlers/embedder.grpc.js';

const EMBEDDING_BACKEND = Symbol('understudy.EmbeddingBackend');

/** Releases the model (or aborts requests to the server) after the consumers drained. */
@Injectable()
class BackendLifecycle implements OnApplicationShutdown {
  constructor(@Inject(EMBEDDING_BACKEND) private readonly backend: EmbeddingBackend) {}

  onApplicationShutdown(): Promise<void> {
    return this.backend.close();
  }
}

/** The host's shared store for the service's own bucket, else MinIO/S3 with that bucket. */
function storeOpener(
  config: ServiceConfig<typeof settings>,
  logger: Logger,
  shared: SharedDrivers,
): StoreOpener {
  return async (bucket) => {
    const store =
      shared.store !== undefined && bucket === config.s3.bucket
        ? shared.store
        : minioStore({ ...config.s3, bucket }, logger);
    await store.init();
    return store;
  };
}

@Module({})
class EmbedderModule {}

export const definition: ServiceDefinition<typeof settings> = {
  name: producer,
  version: '0.1.0',
  settings,
  module: (config, telemetry, shared) => ({
    module: EmbedderModule,
    imports: [
      MessagingModule.forRootAsync({
        useFactory: () => ({
          driver: messagingDriver(config.kafka, producer, telemetry.logger, shared),
          producerName: producer,
          topics: [topics.callsEmbedded],
          logger: telemetry.logger,
          concurrency: config.embedding.partitions,
        }),
      }),
      GrpcModule.forRootAsync({
        useFactory: async () => ({
          ...(await grpcServerOptions(config.grpc)),
          logger: telemetry.logger,
        }),
      }),
    ],
    providers: [
      {
        provide: EMBEDDING_BACKEND,
        useFactory: async () => {
          const backend = await openBackend(config, storeOpener(config, telemetry.logger, shared));
          telemetry.logger.info(
            { model: backend.model, backend: backend.backend },
            'embedding backend ready',
          );
          return backend;
        },
      },
      BackendLifecycle,
      {
        provide: CallEmbedder,
        inject: [EMBEDDING_BACKEND],
        useFactory: async (backend: EmbeddingBackend) =>
          new CallEmbedder(
            backend,
            config.embedding,
            config.contentKeysFile === undefined
              ? undefined
              : await readContentKeys(config.contentKeysFile),
          ),
      },
      CallCapturedHandler,
      EmbedderGrpc,
    ],
  }),
};
