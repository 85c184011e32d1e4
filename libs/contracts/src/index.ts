// The wire contracts, generated from proto/ by `npm run proto:generate`.
export * from './gen/understudy/v1/common_pb.js';
export * from './gen/understudy/v1/calls_pb.js';
export * from './gen/understudy/v1/capture_pb.js';
export * from './gen/understudy/v1/embeddings_pb.js';
export * from './gen/understudy/v1/tasks_pb.js';
export * from './gen/understudy/v1/datasets_pb.js';
export * from './gen/understudy/v1/training_pb.js';
export * from './gen/understudy/v1/models_pb.js';
export * from './gen/understudy/v1/routing_pb.js';
export * from './gen/understudy/v1/audit_pb.js';
export * from './gen/understudy/v1/registry_service_pb.js';
export * from './gen/understudy/v1/trainer_service_pb.js';
export * from './gen/understudy/v1/clusterer_service_pb.js';
export * from './gen/understudy/v1/embedder_service_pb.js';
export * from './gen/understudy/v1/dataset_builder_service_pb.js';
export * from './gen/grpc/health/v1/health_pb.js';
// The two reflection versions declare the same names, so each gets its own namespace.
export * as reflectionV1 from './gen/grpc/reflection/v1/reflection_pb.js';
export * as reflectionV1alpha from './gen/grpc/reflection/v1alpha/reflection_pb.js';
// OTLP and google.rpc keep their upstream names (Status, Span, Resource…), so each file gets a
// namespace rather than mixing them with Understudy's own messages.
export * as otlpCommon from './gen/opentelemetry/proto/common/v1/common_pb.js';
export * as otlpResource from './gen/opentelemetry/proto/resource/v1/resource_pb.js';
export * as otlpTrace from './gen/opentelemetry/proto/trace/v1/trace_pb.js';
export * as otlpTraceService from './gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
export * as otlpLogs from './gen/opentelemetry/proto/logs/v1/logs_pb.js';
export * as otlpLogsService from './gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';
export * as googleRpc from './gen/google/rpc/status_pb.js';
export * as googleRpcDetails from './gen/google/rpc/error_details_pb.js';
