export {
  ErrorCode,
  codeOfGrpcStatus,
  grpcStatusOf,
  httpStatusOf,
  isRetryableCode,
} from './error-code.js';
export { UnderstudyError, isRetryable, type ErrorOptions } from './understudy-error.js';
