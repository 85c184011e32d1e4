import { ErrorCode } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { createDataSource, dataSourceOptions, type DatabaseOptions } from './data-source.js';

const base: DatabaseOptions = {
  postgres: { host: '127.0.0.1', port: 5432, user: 'svc', password: 'pw', database: 'registry' },
  entities: [],
  migrations: [],
};

describe('dataSourceOptions', () => {
  it('never lets TypeORM change the schema on its own', () => {
    const options = dataSourceOptions(base);
    expect(options).toMatchObject({
      type: 'postgres',
      synchronize: false,
      migrationsRun: false,
      dropSchema: false,
      installExtensions: false,
      migrationsTableName: 'understudy_migrations',
      migrationsTransactionMode: 'each',
      username: 'svc',
      database: 'registry',
    });
  });

  it('puts the schema first on the search path of every connection', () => {
    const options = dataSourceOptions({ ...base, schema: 'registry_v1' });
    expect(options.schema).toBe('registry_v1');
    expect(options.extra).toEqual({ options: '-c search_path=registry_v1,public' });
    expect(dataSourceOptions(base).extra).toBeUndefined();
  });

  it('passes pool and connection settings through', () => {
    const options = dataSourceOptions({
      ...base,
      poolSize: 4,
      applicationName: 'model-registry',
      ssl: true,
      connectTimeoutMs: 500,
      slowQueryMs: 250,
    });
    expect(options).toMatchObject({
      poolSize: 4,
      applicationName: 'model-registry',
      ssl: true,
      connectTimeoutMS: 500,
      maxQueryExecutionTime: 250,
    });
  });

  it.each(['Registry', 'a-b', 'x;drop', '1abc', ''])('rejects schema name %j', (schema) => {
    expect(() => dataSourceOptions({ ...base, schema })).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument }),
    );
  });
});

describe('createDataSource', () => {
  it('rejects a bad schema before connecting', async () => {
    await expect(createDataSource({ ...base, schema: 'Bad' })).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
    });
  });
});
