import { Module } from '@nestjs/common';
import { GrpcModule } from '@understudy/grpc';
import { MessagingModule, topics } from '@understudy/messaging';
import { messagingDriver, type ServiceDefinition } from '@understudy/service';
import { readContentKeys } from '@understudy/tenancy';
import { settings } from './config.js';
import { CallEmbedder } from './domain/call-embedder.js';
import { producer } from './events.js';
import { CallCapturedHandler } from './handlers/call-captured.handler.js';
import { EmbedderGrpc } from './handlers/embedder.grpc.js';

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
        }),
      }),
      GrpcModule.forRootAsync({ useFactory: () => ({ ...config.grpc, logger: telemetry.logger }) }),
    ],
    providers: [
      {
        provide: CallEmbedder,
        useFactory: async () =>
          new CallEmbedder(
            config.featurizer,
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
