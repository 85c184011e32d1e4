import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { DatabaseError } from 'pg';
import {
  CannotExecuteNotConnectedError,
  ConnectionIsNotSetError,
  EntityNotFoundError,
  OptimisticLockVersionMismatchError,
  QueryFailedError,
  TypeORMError,
} from 'typeorm';
import { describe, expect, it } from 'vitest';
import {
  mapDatabaseError,
  rethrowDatabaseError,
  sqlStateOf,
  withDatabaseErrors,
} from './errors.js';

/** A server error as pg builds it from an ErrorResponse message. */
function serverError(code: string, message: string, fields: Partial<DatabaseError> = {}) {
  const error = new DatabaseError(message, message.length, 'error');
  return Object.assign(error, { severity: 'ERROR', code, ...fields });
}

/** TypeORM's wrapper, which also carries the query and its parameters. */
function failedQuery(driverError: Error): QueryFailedError {
  return new QueryFailedError(
    'INSERT INTO t (email) VALUES ($1)',
    ['alice@example.com'],
    driverError,
  );
}

function systemError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, errno: -111, syscall: 'connect' });
}

describe('mapDatabaseError', () => {
  it('maps a unique violation to AlreadyExists with schema names and no row values', () => {
    const driverError = serverError(
      '23505',
      'duplicate key value violates unique constraint "t_email_key"',
      {
        constraint: 't_email_key',
        table: 't',
        schema: 'public',
        detail: 'Key (email)=(alice@example.com) already exists.',
      },
    );
    const mapped = mapDatabaseError(failedQuery(driverError));
    expect(mapped).toBeInstanceOf(UnderstudyError);
    expect(mapped.code).toBe(ErrorCode.AlreadyExists);
    expect(mapped.retryable).toBe(false);
    expect(mapped.details).toEqual({
      sqlState: '23505',
      constraint: 't_email_key',
      table: 't',
      schema: 'public',
    });
    expect(mapped.cause).toBe(driverError);
    expect(JSON.stringify(mapped.details)).not.toContain('alice');
  });

  it.each([
    ['40001', ErrorCode.Aborted, true],
    ['40P01', ErrorCode.Aborted, true],
    ['55P03', ErrorCode.Aborted, true],
    ['23503', ErrorCode.FailedPrecondition, false],
    ['23P01', ErrorCode.AlreadyExists, false],
    ['23502', ErrorCode.InvalidArgument, false],
    ['23514', ErrorCode.InvalidArgument, false],
    ['22P02', ErrorCode.InvalidArgument, false],
    ['57014', ErrorCode.DeadlineExceeded, true],
    ['57P01', ErrorCode.Unavailable, true],
    ['57P03', ErrorCode.Unavailable, true],
    ['08006', ErrorCode.Unavailable, true],
    ['53300', ErrorCode.Unavailable, true],
    ['53100', ErrorCode.ResourceExhausted, true],
    ['28P01', ErrorCode.Unavailable, false],
    ['3D000', ErrorCode.Unavailable, false],
    ['42P01', ErrorCode.Internal, false],
  ])('maps SQLSTATE %s to %s (retryable: %s)', (state, code, retryable) => {
    const mapped = mapDatabaseError(failedQuery(serverError(state, 'server said no')));
    expect(mapped.code).toBe(code);
    expect(mapped.retryable).toBe(retryable);
    expect(mapped.details['sqlState']).toBe(state);
  });

  it.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE'])(
    'maps socket error %s to a retryable Unavailable',
    (errno) => {
      const mapped = mapDatabaseError(systemError(errno, `connect ${errno} 127.0.0.1:1`));
      expect(mapped.code).toBe(ErrorCode.Unavailable);
      expect(mapped.retryable).toBe(true);
      expect(mapped.details).toEqual({});
    },
  );

  it('maps connection errors raised without a code by pg and pg-pool', () => {
    for (const message of [
      'Connection terminated unexpectedly',
      'Connection terminated due to connection timeout',
      'timeout exceeded when trying to connect',
      'Client has encountered a connection error and is not queryable',
      'Cannot use a pool after calling end on the pool',
    ]) {
      expect(mapDatabaseError(failedQuery(new Error(message))).code).toBe(ErrorCode.Unavailable);
    }
  });

  it('looks inside AggregateError, as Node raises when every address of a host refuses', () => {
    const error = new AggregateError(
      [systemError('ECONNREFUSED', 'connect ECONNREFUSED ::1:1'), systemError('ECONNREFUSED', 'x')],
      'connect failed',
    );
    expect(mapDatabaseError(error).code).toBe(ErrorCode.Unavailable);
  });

  it('treats a data source without a pool as unavailable', () => {
    expect(mapDatabaseError(new CannotExecuteNotConnectedError()).code).toBe(ErrorCode.Unavailable);
    expect(mapDatabaseError(new ConnectionIsNotSetError('postgres')).code).toBe(
      ErrorCode.Unavailable,
    );
    expect(mapDatabaseError(new TypeORMError('Driver not Connected')).code).toBe(
      ErrorCode.Unavailable,
    );
  });

  it('maps TypeORM lookups and optimistic locks', () => {
    expect(mapDatabaseError(new EntityNotFoundError('Model', { id: 1 })).code).toBe(
      ErrorCode.NotFound,
    );
    const stale = mapDatabaseError(new OptimisticLockVersionMismatchError('Model', 2, 3));
    expect(stale.code).toBe(ErrorCode.Aborted);
    expect(stale.retryable).toBe(true);
  });

  it('keeps UnderstudyErrors and wraps anything else as Internal', () => {
    const own = new UnderstudyError(ErrorCode.NotFound, 'no such model');
    expect(mapDatabaseError(own)).toBe(own);
    const mapped = mapDatabaseError(new TypeError('boom'));
    expect(mapped.code).toBe(ErrorCode.Internal);
    expect(mapped.message).toBe('boom');
  });

  it('never keeps the query parameters reachable from the mapped error', () => {
    const mapped = mapDatabaseError(failedQuery(serverError('40001', 'could not serialize')));
    expect(mapped.cause).not.toBeInstanceOf(QueryFailedError);
    expect(JSON.stringify(mapped, Object.getOwnPropertyNames(mapped))).not.toContain('alice');
  });
});

describe('at the repository boundary', () => {
  const unique = () => failedQuery(serverError('23505', 'duplicate key value'));

  it('maps what a query promise rejects with, and passes its value through', async () => {
    await expect(Promise.reject(unique()).catch(rethrowDatabaseError)).rejects.toMatchObject({
      code: ErrorCode.AlreadyExists,
    });
    await expect(Promise.resolve(7).catch(rethrowDatabaseError)).resolves.toBe(7);
  });

  it('maps what repository work throws, also before its first await', async () => {
    await expect(
      withDatabaseErrors(() => {
        throw unique();
      }),
    ).rejects.toMatchObject({ code: ErrorCode.AlreadyExists });
    await expect(withDatabaseErrors(() => Promise.reject(unique()))).rejects.toBeInstanceOf(
      UnderstudyError,
    );
    await expect(withDatabaseErrors(() => Promise.resolve('row'))).resolves.toBe('row');
  });
});

describe('sqlStateOf', () => {
  it('reads the state of server errors only, also through a mapped error', () => {
    const error = failedQuery(serverError('40P01', 'deadlock detected'));
    expect(sqlStateOf(error)).toBe('40P01');
    expect(sqlStateOf(mapDatabaseError(error))).toBe('40P01');
    expect(sqlStateOf(systemError('EPIPE', 'write EPIPE'))).toBeUndefined();
    expect(sqlStateOf('oops')).toBeUndefined();
  });
});
