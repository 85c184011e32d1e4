export {
  createDataSource,
  dataSourceOptions,
  migrationsTableName,
  type DatabaseOptions,
  type EntityClass,
  type MigrationClass,
  type PostgresConnection,
} from './data-source.js';
export {
  mapDatabaseError,
  rethrowDatabaseError,
  SqlState,
  sqlStateOf,
  withDatabaseErrors,
} from './errors.js';
export {
  migrate,
  pendingMigrations,
  revert,
  type MigrationRecord,
  type RevertOptions,
} from './migrations.js';
export { readinessCheck, type ReadinessOptions } from './readiness.js';
export { withTransaction, type IsolationLevel, type TransactionOptions } from './transaction.js';
