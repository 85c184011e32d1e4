import { loadConfig } from '@understudy/config';
import { ErrorCode } from '@understudy/errors';
import { silentLogger } from '@understudy/telemetry';
import { describe, expect, it } from 'vitest';
import { InProcessDriver } from '@understudy/messaging';
import { FilesystemDriver } from '@understudy/storage';
import {
  kafkaDriver,
  messagingDriver,
  minioStore,
  objectStore,
  postgresConnection,
  postgresUrl,
} from './infrastructure.js';
import { databaseSettings, kafkaSettings, s3Settings } from './settings.js';

describe('postgresConnection', () => {
  const parse = (url: string) =>
    postgresConnection(loadConfig(databaseSettings, { UNDERSTUDY_DATABASE_URL: url }));

  it('reads host, port, credentials and database, decoding escapes', () => {
    expect(parse('postgres://reg%40istry:p%2Fss@db.internal:6432/understudy')).toEqual({
      host: 'db.internal',
      port: 6432,
      user: 'reg@istry',
      password: 'p/ss',
      database: 'understudy',
      ssl: false,
    });
  });

  it('defaults the port and database and honours sslmode', () => {
    expect(parse('postgresql://u:p@db?sslmode=require')).toMatchObject({
      port: 5432,
      database: 'postgres',
      ssl: true,
    });
    expect(parse('postgres://u:p@db/x?sslmode=verify-full').ssl).toBe(true);
  });

  it('round-trips through postgresUrl', () => {
    const connection = {
      host: 'db',
      port: 6432,
      user: 'reg@istry',
      password: 'p/s:s',
      database: 'x',
    };
    expect(parse(postgresUrl(connection))).toEqual({ ...connection, ssl: false });
  });

  it('rejects other schemes', () => {
    expect(() => parse('mysql://u:p@db/x')).toThrow(/must be a postgres:\/\/ URL/);
  });
});

describe('minioStore', () => {
  const s3 = (endpoint: string) =>
    loadConfig(s3Settings, {
      UNDERSTUDY_S3_ENDPOINT: endpoint,
      UNDERSTUDY_S3_ACCESS_KEY: 'a',
      UNDERSTUDY_S3_SECRET_KEY: 's',
    });

  it('builds a driver for http and https endpoints', () => {
    expect(minioStore(s3('http://minio:9000'), silentLogger)).toBeDefined();
    expect(minioStore(s3('https://s3.example.com'), silentLogger)).toBeDefined();
  });

  it('names every missing setting as a configuration error', () => {
    const partial = loadConfig(s3Settings, { UNDERSTUDY_S3_ACCESS_KEY: 'a' });
    expect(() => minioStore(partial, silentLogger)).toThrow(
      /^invalid configuration:\n {2}UNDERSTUDY_S3_ENDPOINT \(missing\)[^\n]*\n {2}UNDERSTUDY_S3_SECRET_KEY/,
    );
  });

  it('is not needed when the host shares its store', () => {
    const shared = new FilesystemDriver({ root: '/nonexistent', logger: silentLogger });
    expect(objectStore(loadConfig(s3Settings, {}), silentLogger, { store: shared })).toBe(shared);
  });
});

describe('kafkaDriver', () => {
  it('needs username and password with a SASL mechanism', () => {
    const kafka = loadConfig(kafkaSettings, {
      UNDERSTUDY_KAFKA_BROKERS: 'k:9092',
      UNDERSTUDY_KAFKA_SASL_MECHANISM: 'scram-sha-512',
    });
    expect(() => kafkaDriver(kafka, 'svc', silentLogger)).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument }),
    );
  });

  it('builds a driver from plain settings', () => {
    const kafka = loadConfig(kafkaSettings, { UNDERSTUDY_KAFKA_BROKERS: 'k:9092' });
    expect(kafkaDriver(kafka, 'svc', silentLogger)).toBeDefined();
  });

  it('is a configuration error without brokers, unless the host shares its bus', () => {
    const none = loadConfig(kafkaSettings, {});
    expect(() => kafkaDriver(none, 'svc', silentLogger)).toThrow(
      /^invalid configuration:\n {2}UNDERSTUDY_KAFKA_BROKERS \(missing\)/,
    );
    const bus = new InProcessDriver();
    expect(messagingDriver(none, 'svc', silentLogger, { bus })).toBe(bus);
  });
});
