import { DataSource } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { dataSourceOptions } from './data-source.js';
import { readinessCheck } from './readiness.js';

/** Never initialised, so no connection is attempted: queries fail at once inside TypeORM. */
const unconnected = new DataSource(
  dataSourceOptions({
    postgres: { host: '127.0.0.1', port: 1, user: 'u', password: 'p', database: 'd' },
    entities: [],
    migrations: [],
  }),
);

describe('readinessCheck', () => {
  it('reports a data source without connections as unhealthy, with the reason', async () => {
    const result = await readinessCheck(unconnected)(new AbortController().signal);
    expect(result).toEqual({
      healthy: false,
      detail: 'database unavailable: Driver not Connected',
    });
  });

  it('gives up as soon as the caller aborts', async () => {
    const controller = new AbortController();
    controller.abort();
    const result = await readinessCheck(unconnected, { timeoutMs: 50 })(controller.signal);
    expect(result).toEqual({ healthy: false, detail: 'database did not answer within 50 ms' });
  });
});
