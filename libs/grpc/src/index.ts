export { methodDefinition, methodPath, serviceDefinition } from './adapter.js';
export {
  createClient,
  type BiDiStreamingMethod,
  type CallOptions,
  type Client,
  type ClientMethod,
  type ClientOptions,
  type ClientStreamingMethod,
  type Requests,
  type ServerStreamingMethod,
  type UnaryMethod,
} from './client.js';
export { HealthRegistry, type ServingStatus } from './health.js';
export { GrpcServer, type GrpcServerOptions } from './server.js';
export type {
  Authenticate,
  BiDiStreamingImpl,
  CallContext,
  ClientStreamingImpl,
  MethodImpl,
  Principal,
  ServerStreamingImpl,
  ServiceImpl,
  UnaryImpl,
} from './service-impl.js';
export { errorOfStatus, errorTrailer, statusOfError } from './status.js';
export { GrpcModule, GrpcService, type GrpcModuleAsyncOptions } from './nest/grpc.module.js';
