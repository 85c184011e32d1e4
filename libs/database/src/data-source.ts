import type { TlsOptions } from 'node:tls';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { silentLogger, type Logger } from '@understudy/telemetry';
import {
  DataSource,
  type DataSourceOptions,
  type EntitySchema,
  type MigrationInterface,
} from 'typeorm';
import { mapDatabaseError } from './errors.js';
import { TypeOrmLoggerAdapter } from './typeorm-logger.js';

/** Where migrate() records what it applied, in the data source's schema. */
export const migrationsTableName = 'understudy_migrations';

export interface PostgresConnection {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

/** A decorated entity class; TypeORM instantiates it when it loads rows. */
export type EntityClass = new (...args: never[]) => object;

/** A migration class whose name ends in a 13-digit millisecond timestamp, as TypeORM requires. */
export type MigrationClass = new () => MigrationInterface;

export interface DatabaseOptions {
  readonly postgres: PostgresConnection;
  /**
   * The PostgreSQL schema holding this service's tables and its migrations table; first on the
   * search path so raw SQL in migrations lands there too. migrate() creates it. Default: public.
   */
  readonly schema?: string;
  readonly entities: readonly (EntityClass | EntitySchema)[];
  readonly migrations: readonly MigrationClass[];
  readonly logger?: Logger;
  /** Most connections held at once (pg's default is 10). */
  readonly poolSize?: number;
  /** Shown in pg_stat_activity, so a DBA can tell which service holds a connection. */
  readonly applicationName?: string;
  readonly ssl?: boolean | TlsOptions;
  /** How long opening a connection may take before it fails as unavailable. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Queries slower than this are logged as warnings. Default 1 s. */
  readonly slowQueryMs?: number;
}

type PostgresDataSourceOptions = Extract<DataSourceOptions, { type: 'postgres' }>;

const identifier = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The TypeORM options for `options`. Schema changes happen only through reviewed migrations run by
 * migrate(): synchronize, migrationsRun and extension installation are off and cannot be enabled.
 */
export function dataSourceOptions(options: DatabaseOptions): PostgresDataSourceOptions {
  const { postgres, schema } = options;
  if (schema !== undefined && !identifier.test(schema)) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      `schema "${schema}" must be a lower-case SQL identifier`,
      { details: { schema } },
    );
  }
  return {
    type: 'postgres',
    host: postgres.host,
    port: postgres.port,
    username: postgres.user,
    password: postgres.password,
    database: postgres.database,
    ...(schema === undefined
      ? {}
      : { schema, extra: { options: `-c search_path=${schema},public` } }),
    ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
    ...(options.poolSize === undefined ? {} : { poolSize: options.poolSize }),
    ...(options.applicationName === undefined ? {} : { applicationName: options.applicationName }),
    connectTimeoutMS: options.connectTimeoutMs ?? 10_000,
    maxQueryExecutionTime: options.slowQueryMs ?? 1_000,
    entities: [...options.entities],
    migrations: [...options.migrations],
    migrationsTableName,
    migrationsTransactionMode: 'each',
    migrationsRun: false,
    synchronize: false,
    dropSchema: false,
    installExtensions: false,
    logger: new TypeOrmLoggerAdapter(options.logger ?? silentLogger),
  };
}

/**
 * Connects a pool to PostgreSQL and loads the entity metadata. Fails with a retryable
 * UnderstudyError(Unavailable) when the server cannot be reached. Call migrate() next.
 */
export async function createDataSource(options: DatabaseOptions): Promise<DataSource> {
  const dataSource = new DataSource(dataSourceOptions(options));
  try {
    return await dataSource.initialize();
  } catch (error) {
    throw mapDatabaseError(error);
  }
}
