import { env, setting, type ConfigOf } from '@understudy/config';

/** When a partition's buffer is flushed into segments: whichever limit it reaches first. */
export const archiveSettings = {
  maxCalls: setting('UNDERSTUDY_ARCHIVE_MAX_CALLS', env.positiveInt().default(20_000)),
  /** Uncompressed; a replica holds at most this much per partition it owns. */
  maxBytes: setting('UNDERSTUDY_ARCHIVE_MAX_BYTES', env.positiveInt().default(16 * 1024 * 1024)),
  /**
   * Age of a buffer: the span of its records' Kafka timestamps, or, once the partition is caught
   * up, the time it has waited for more.
   */
  maxAgeMs: setting('UNDERSTUDY_ARCHIVE_MAX_AGE_MS', env.positiveInt().default(300_000)),
};

export type ArchiveSettings = ConfigOf<typeof archiveSettings>;
