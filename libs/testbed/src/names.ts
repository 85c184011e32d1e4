import { randomBytes } from 'node:crypto';

/**
 * `prefix-` and 8 random hex digits: isolates a test's topic, consumer group, bucket or database
 * on the shared servers. With a lowercase prefix of 3+ characters the result is valid for all
 * of them (S3 bucket names are the strictest).
 */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}
