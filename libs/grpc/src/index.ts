export {
  methodDefinition,
  methodPath,
  rawMethodDefinition,
  rawServiceDefinition,
  serviceDefinition,
} from './adapter.js';
export {
  createClient,
  type BiDiStreamingMethod,
  type CallOptions,
  type Client,
  type ClientMethod,
  type ClientOptions,
  type ClientTls,
  type ClientStreamingMethod,
  type Requests,
  type ServerStreamingMethod,
  type UnaryMethod,
} from './client.js';
export { HealthRegistry, type ServingStatus } from './health.js';
export type { RetryDelay } from './intake.js';
export { GrpcServer, type GrpcServerOptions, type GrpcTls } from './server.js';
export type {
  Authenticate,
  Authorize,
  BiDiStreamingImpl,
  CallContext,
  ClientStreamingImpl,
  MethodImpl,
  Peer,
  Principal,
  RawBiDiStreamingImpl,
  RawClientStreamingImpl,
  RawMethodImpl,
  RawServerStreamingImpl,
  RawServiceImpl,
  RawUnaryImpl,
  ServerStreamingImpl,
  ServiceImpl,
  UnaryImpl,
} from './service-impl.js';
export { errorOfStatus, errorTrailer, statusDetailsTrailer, statusOfError } from './status.js';
export { GrpcModule, GrpcService, type GrpcModuleAsyncOptions } from './nest/grpc.module.js';
