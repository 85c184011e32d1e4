import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { errorOfStatus, statusOfError } from '@understudy/grpc';
import { describe, expect, it } from 'vitest';
import { ExitCode, failureOf, renderFailure, UsageError } from './failure.js';

/** The error a client gets for what the server threw, as it crosses the wire. */
function received(error: UnderstudyError, retryDelaySeconds?: number): UnderstudyError {
  const status = statusOfError(error, retryDelaySeconds);
  return errorOfStatus(Object.assign(new Error(status.details), status));
}

describe('failures', () => {
  it.each([
    [ErrorCode.InvalidArgument, ExitCode.Usage],
    [ErrorCode.NotFound, ExitCode.NotFound],
    [ErrorCode.FailedPrecondition, ExitCode.Conflict],
    [ErrorCode.Aborted, ExitCode.Conflict],
    [ErrorCode.Unauthenticated, ExitCode.Denied],
    [ErrorCode.PermissionDenied, ExitCode.Denied],
    [ErrorCode.AlreadyExists, ExitCode.Failed],
    [ErrorCode.Unavailable, ExitCode.Failed],
    [ErrorCode.Unimplemented, ExitCode.Failed],
  ])('exit with the class of %s', (code, exitCode) => {
    expect(failureOf(received(new UnderstudyError(code, 'x'))).exitCode).toBe(exitCode);
  });

  it('exit 2 for a bad command line and 1 for anything unexpected', () => {
    expect(failureOf(new UsageError('--to is required'))).toMatchObject({
      exitCode: 2,
      code: 'USAGE',
    });
    expect(failureOf(new TypeError('boom'))).toMatchObject({
      exitCode: 1,
      code: 'INTERNAL',
      message: 'boom',
    });
  });

  it("print the registry's details and the google.rpc.Status details it sent", () => {
    const error = received(
      new UnderstudyError(ErrorCode.Aborted, 'routes of task t1 changed since revision 41', {
        details: { expectedRevision: 41, revision: 43 },
      }),
      1.5,
    );
    const failure = failureOf(error);
    expect(failure.statusDetails).toEqual([
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1.500s' },
    ]);
    expect(renderFailure(failure)).toBe(
      'error: ABORTED: routes of task t1 changed since revision 41\n' +
        '  expectedRevision: 41\n' +
        '  revision: 43\n' +
        '  RetryInfo: {"retryDelay":"1.500s"}\n',
    );
  });
});
