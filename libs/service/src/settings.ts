import { env, setting } from '@understudy/config';

/** What every service reads: logging, its ops server, trace export and shutdown patience. */
export const commonSettings = {
  logLevel: setting(
    'UNDERSTUDY_LOG_LEVEL',
    env.oneOf(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  ),
  ops: {
    host: setting('UNDERSTUDY_OPS_HOST', env.text().default('0.0.0.0')),
    port: setting('UNDERSTUDY_OPS_PORT', env.port().default(9464)),
  },
  otlpEndpoint: setting('OTEL_EXPORTER_OTLP_ENDPOINT', env.url().optional()),
  /** Longest wait for in-flight work at shutdown; Helm's grace period must exceed it. */
  shutdownTimeoutMs: setting('UNDERSTUDY_SHUTDOWN_TIMEOUT_MS', env.positiveInt().default(25_000)),
};

/** The service's gRPC server; `grpcServerOptions` reads its TLS files. */
export const grpcSettings = {
  host: setting('UNDERSTUDY_GRPC_HOST', env.text().default('0.0.0.0')),
  port: setting('UNDERSTUDY_GRPC_PORT', env.port().default(50051)),
  /** PEM files mounted from a Secret; plaintext without a certificate. */
  tls: {
    certFile: setting('UNDERSTUDY_GRPC_TLS_CERT_FILE', env.text().optional()),
    keyFile: setting('UNDERSTUDY_GRPC_TLS_KEY_FILE', env.text().optional()),
    /** CA certificates of the callers': every caller must then present one (mutual TLS). */
    clientCaFile: setting('UNDERSTUDY_GRPC_TLS_CLIENT_CA_FILE', env.text().optional()),
  },
};

/**
 * How a service calls another's gRPC server, each variable named `<prefix>_…` (e.g.
 * `UNDERSTUDY_REGISTRY_ADDRESS`); `grpcClientOptions` reads the files.
 */
export function grpcClientSettings(prefix: string) {
  return {
    /** `host:port`. */
    address: setting(`${prefix}_ADDRESS`, env.text()),
    /** A file mounted from a Secret whose content is sent as `authorization: Bearer <token>`. */
    tokenFile: setting(`${prefix}_TOKEN_FILE`, env.text().optional()),
    tls: {
      /** TLS when set: the CA certificates the server's certificate must chain to (PEM). */
      caFile: setting(`${prefix}_TLS_CA_FILE`, env.text().optional()),
      /** The certificate and key to present, for mutual TLS (PEM). */
      certFile: setting(`${prefix}_TLS_CERT_FILE`, env.text().optional()),
      keyFile: setting(`${prefix}_TLS_KEY_FILE`, env.text().optional()),
    },
  };
}

/** Kafka; the brokers are required unless the host process shares its bus (`SharedDrivers`). */
export const kafkaSettings = {
  brokers: setting('UNDERSTUDY_KAFKA_BROKERS', env.list().optional()),
  ssl: setting('UNDERSTUDY_KAFKA_SSL', env.boolean().default(false)),
  saslMechanism: setting(
    'UNDERSTUDY_KAFKA_SASL_MECHANISM',
    env.oneOf(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
  ),
  saslUsername: setting('UNDERSTUDY_KAFKA_SASL_USERNAME', env.text().optional()),
  saslPassword: setting('UNDERSTUDY_KAFKA_SASL_PASSWORD', env.text().optional(), { secret: true }),
};

/** MinIO/S3; endpoint and keys are required unless the host process shares its object store. */
export const s3Settings = {
  endpoint: setting('UNDERSTUDY_S3_ENDPOINT', env.url().optional()),
  region: setting('UNDERSTUDY_S3_REGION', env.text().default('us-east-1')),
  bucket: setting('UNDERSTUDY_S3_BUCKET', env.text().default('understudy')),
  accessKey: setting('UNDERSTUDY_S3_ACCESS_KEY', env.text().optional(), { secret: true }),
  secretKey: setting('UNDERSTUDY_S3_SECRET_KEY', env.text().optional(), { secret: true }),
};

export const databaseSettings = {
  /** `postgres://user:password@host:port/database?sslmode=require`. */
  url: setting('UNDERSTUDY_DATABASE_URL', env.url(), { secret: true }),
  poolSize: setting('UNDERSTUDY_DATABASE_POOL_SIZE', env.positiveInt().default(10)),
};
