import type { ConfigOf } from '@understudy/config';
import {
  createDataSource,
  migrate,
  type DatabaseOptions,
  type PostgresConnection,
} from '@understudy/database';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { KafkaDriver, type MessagingDriver } from '@understudy/messaging';
import { MinioDriver, type ObjectStore } from '@understudy/storage';
import type { Logger } from '@understudy/telemetry';
import type { databaseSettings, kafkaSettings, s3Settings } from './settings.js';

/**
 * What a host process running several services shares with them: the embedded platform's
 * in-process bus and filesystem store. A service uses them instead of its Kafka and S3 settings.
 */
export interface SharedDrivers {
  readonly bus?: MessagingDriver;
  readonly store?: ObjectStore;
}

/** The boot error for settings that only a shared driver could have made unnecessary. */
function missing(...variables: string[]): UnderstudyError {
  return new UnderstudyError(
    ErrorCode.InvalidArgument,
    `invalid configuration:\n  ${variables.map((v) => `${v} (missing): required`).join('\n  ')}`,
    { details: { variables } },
  );
}

/** The shared bus, or the Kafka driver for a service, its client id being the service name. */
export function messagingDriver(
  kafka: ConfigOf<typeof kafkaSettings>,
  clientId: string,
  logger: Logger,
  shared: SharedDrivers,
): MessagingDriver {
  return shared.bus ?? kafkaDriver(kafka, clientId, logger);
}

/** The Kafka driver for a service, its client id being the service name. */
export function kafkaDriver(
  kafka: ConfigOf<typeof kafkaSettings>,
  clientId: string,
  logger: Logger,
): KafkaDriver {
  const { brokers, saslMechanism, saslUsername, saslPassword } = kafka;
  if (brokers === undefined) throw missing('UNDERSTUDY_KAFKA_BROKERS');
  if (saslMechanism !== undefined && (saslUsername === undefined || saslPassword === undefined)) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      'UNDERSTUDY_KAFKA_SASL_MECHANISM needs UNDERSTUDY_KAFKA_SASL_USERNAME and _PASSWORD',
    );
  }
  return new KafkaDriver({
    brokers: [...brokers],
    clientId,
    logger,
    ssl: kafka.ssl,
    ...(saslMechanism !== undefined &&
      saslUsername !== undefined &&
      saslPassword !== undefined && {
        sasl: { mechanism: saslMechanism, username: saslUsername, password: saslPassword },
      }),
  });
}

/** The shared store, or the MinIO/S3 store for a service; call `init()` before use. */
export function objectStore(
  s3: ConfigOf<typeof s3Settings>,
  logger: Logger,
  shared: SharedDrivers,
): ObjectStore {
  return shared.store ?? minioStore(s3, logger);
}

/** The MinIO/S3 object store for a service, bucket created when missing. */
export function minioStore(s3: ConfigOf<typeof s3Settings>, logger: Logger): MinioDriver {
  const { endpoint, accessKey, secretKey } = s3;
  if (endpoint === undefined || accessKey === undefined || secretKey === undefined) {
    throw missing(
      ...Object.entries({
        UNDERSTUDY_S3_ENDPOINT: endpoint,
        UNDERSTUDY_S3_ACCESS_KEY: accessKey,
        UNDERSTUDY_S3_SECRET_KEY: secretKey,
      })
        .filter(([, value]) => value === undefined)
        .map(([variable]) => variable),
    );
  }
  const url = new URL(endpoint);
  const useSSL = url.protocol === 'https:';
  return new MinioDriver({
    endPoint: url.hostname,
    port: url.port === '' ? (useSSL ? 443 : 80) : Number(url.port),
    useSSL,
    region: s3.region,
    accessKey,
    secretKey,
    bucket: s3.bucket,
    createBucket: true,
    logger,
  });
}

/** Connection settings from a `postgres://` URL; `sslmode=require` (or verify-*) turns on TLS. */
export function postgresConnection(
  database: ConfigOf<typeof databaseSettings>,
): PostgresConnection & { readonly ssl: boolean } {
  const url = new URL(database.url);
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      `UNDERSTUDY_DATABASE_URL must be a postgres:// URL, not ${url.protocol}`,
    );
  }
  const sslmode = url.searchParams.get('sslmode') ?? 'disable';
  return {
    host: url.hostname,
    port: url.port === '' ? 5432 : Number(url.port),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: decodeURIComponent(url.pathname.replace(/^\//, '')) || 'postgres',
    ssl: sslmode === 'require' || sslmode.startsWith('verify'),
  };
}

/** The `postgres://` URL of a connection, credentials escaped: the inverse of postgresConnection. */
export function postgresUrl(connection: PostgresConnection): string {
  const { user, password, host, port, database } = connection;
  const credentials = `${encodeURIComponent(user)}:${encodeURIComponent(password)}`;
  return `postgres://${credentials}@${host}:${String(port)}/${encodeURIComponent(database)}`;
}

export type ServiceDatabaseOptions = Pick<
  DatabaseOptions,
  'schema' | 'entities' | 'migrations' | 'logger' | 'applicationName'
>;

/** The service's own schema on PostgreSQL, migrated to the latest version before first use. */
export async function openDatabase(
  database: ConfigOf<typeof databaseSettings>,
  options: ServiceDatabaseOptions,
): ReturnType<typeof createDataSource> {
  const { ssl, ...postgres } = postgresConnection(database);
  const dataSource = await createDataSource({
    ...options,
    postgres,
    ssl,
    poolSize: database.poolSize,
  });
  try {
    await migrate(dataSource);
  } catch (error) {
    await dataSource.destroy();
    throw error;
  }
  return dataSource;
}
