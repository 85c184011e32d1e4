export type { Progress } from './artifacts.js';
export { bundleService, type BundleOptions } from './bundle.js';
export type { KafkaEndpoint, PostgresEndpoint, S3Endpoint, TestbedEndpoints } from './endpoints.js';
export {
  GHZ_VERSION,
  GRPCURL_VERSION,
  HELM_VERSION,
  ghzBinary,
  goBinary,
  grpcurl,
  grpcurlBinary,
  type GrpcurlResult,
  helmBinary,
  type GoProgram,
} from './go-tools.js';
export { KAFKA_VERSION, kafkaLibs, startKafka, type KafkaServer } from './kafka.js';
export { MINIO_VERSION, minioBinary, startMinio, type MinioServer } from './minio.js';
export { uniqueName } from './names.js';
export { freePort } from './ports.js';
export { cacheRoot, stateRoot } from './paths.js';
export { createDatabase, startPostgres, type PostgresServer } from './postgres.js';
export { prepare, type Artifacts } from './prepare.js';
export { pythonEnv, type PythonEnv, type PythonEnvOptions } from './python-env.js';
export { collectorClientsEnv, embedderEnv } from './python-envs.js';
export { startPythonServer, type PythonServer, type PythonServerOptions } from './python-server.js';
export { ServiceProcess, type ProcessExit, type ServiceProcessOptions } from './service-process.js';
export { startTestbed, type Testbed } from './testbed.js';
export { trainerPython, writeTinyDataset, type TrainerPython } from './trainer.js';
