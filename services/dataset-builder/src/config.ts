import { env, setting, z } from '@understudy/config';
import {
  databaseSettings,
  grpcClientSettings,
  grpcSettings,
  kafkaSettings,
  s3Settings,
} from '@understudy/service';
import { contentKeysFileSetting } from '@understudy/tenancy';

export const settings = {
  kafka: kafkaSettings,
  grpc: grpcSettings,
  s3: s3Settings,
  database: databaseSettings,
  /** Keys that open encrypted call content; unset, encrypted calls are dead-lettered. */
  contentKeysFile: contentKeysFileSetting,
  /** The model registry's gRPC server, called with a writer's token. */
  registry: grpcClientSettings('UNDERSTUDY_REGISTRY'),
  /** host:port of the clusterer's gRPC server, which owns task membership. */
  clustererAddress: setting('UNDERSTUDY_CLUSTERER_ADDRESS', env.text()),
  /** Usable calls a task needs before it gets a dataset. */
  minCalls: setting('UNDERSTUDY_DATASET_MIN_CALLS', env.positiveInt().default(50)),
  /** Share of examples held out for evaluation. */
  evalFraction: setting(
    'UNDERSTUDY_DATASET_EVAL_FRACTION',
    z.coerce.number().gt(0).lt(1).default(0.1),
  ),
};
