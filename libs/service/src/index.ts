export { grpcClientOptions, grpcServerOptions } from './grpc.js';
export {
  kafkaDriver,
  messagingDriver,
  minioStore,
  objectStore,
  openDatabase,
  postgresConnection,
  postgresUrl,
  type ServiceDatabaseOptions,
  type SharedDrivers,
} from './infrastructure.js';
export {
  CONFIG,
  InjectConfig,
  runService,
  startService,
  type RunningService,
  type ServiceConfig,
  type ServiceDefinition,
  type StartOptions,
} from './service.js';
export {
  commonSettings,
  databaseSettings,
  grpcClientSettings,
  grpcSettings,
  kafkaSettings,
  s3Settings,
} from './settings.js';
