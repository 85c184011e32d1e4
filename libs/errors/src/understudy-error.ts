import { ErrorCode, isRetryableCode } from './error-code.js';

export interface ErrorOptions {
  readonly cause?: unknown;
  /** Overrides the code's default classification, e.g. a 500 from an upstream that may recover. */
  readonly retryable?: boolean;
  /** Structured, non-secret facts for logs and error bodies. */
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * The one exception type of the codebase. Domain code throws it with a code; only edges
 * (HTTP filters, gRPC handlers, consumer runners) turn it into a status or a retry decision.
 */
export class UnderstudyError extends Error {
  override readonly name = 'UnderstudyError';
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? isRetryableCode(code);
    this.details = Object.freeze({ ...options.details });
  }

  /** Wraps anything thrown into an UnderstudyError; unknown failures are internal and not retried. */
  static from(error: unknown): UnderstudyError {
    if (error instanceof UnderstudyError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new UnderstudyError(ErrorCode.Internal, message, { cause: error });
  }
}

export function isRetryable(error: unknown): boolean {
  return error instanceof UnderstudyError && error.retryable;
}
