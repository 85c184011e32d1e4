import type { Readable } from 'node:stream';

/**
 * Where artifacts (datasets, adapters, archives) live. Keys are '/'-separated paths such as
 * `datasets/<tenant>/<id>.jsonl`; see `validateKey` for the rules. Do not store an object at a
 * key that other keys continue (`a` and `a/b`): MinIO cannot list both. Every failure is an
 * `UnderstudyError`: bad input is InvalidArgument, a missing object NotFound, an unreachable
 * backend a retryable Unavailable.
 */
export interface ObjectStore {
  /** Prepares the backend (root directory, bucket); call once before any other method. */
  init(): Promise<void>;
  /**
   * Stores `body` under `key`, replacing any previous object. The body is streamed, never held
   * in memory whole; its SHA-256 is computed on the way and kept with the object.
   */
  put(key: string, body: Buffer | Readable, options?: PutOptions): Promise<PutResult>;
  get(key: string): Promise<Readable>;
  /**
   * Bytes `[offset, offset + length)`, clipped at the end. An offset at or past the end is
   * OutOfRange, except offset 0 without a length, which reads any object whole.
   */
  getRange(key: string, range: ByteRange): Promise<Readable>;
  stat(key: string): Promise<ObjectStat>;
  exists(key: string): Promise<boolean>;
  /** Removes the object; removing a missing one succeeds. */
  delete(key: string): Promise<void>;
  /**
   * Objects whose key starts with `prefix`, in UTF-8 byte order of keys. Without `recursive`,
   * keys below the next '/' after the prefix collapse into one `prefix` entry, as in S3.
   */
  list(prefix: string, options?: ListOptions): AsyncIterable<ListEntry>;
}

export interface PutOptions {
  /** Defaults to application/octet-stream. */
  readonly contentType?: string;
  /** Keys: lowercase letters, digits and '-'; values: any text. See `validateMetadata`. */
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface PutResult {
  readonly key: string;
  readonly size: number;
  /** Lowercase hex SHA-256 of the stored bytes. */
  readonly sha256: string;
  readonly etag: string;
}

export interface ObjectStat {
  readonly key: string;
  readonly size: number;
  /** Absent only for an object written by another tool, or whose multipart upload was cut off before its hash was recorded. */
  readonly sha256?: string;
  readonly etag: string;
  readonly contentType: string;
  readonly lastModified: Date;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface ByteRange {
  readonly offset: number;
  /** Omitted: to the end of the object. */
  readonly length?: number;
}

export interface ListOptions {
  readonly recursive?: boolean;
}

export type ListEntry = ObjectEntry | PrefixEntry;

export interface ObjectEntry {
  readonly type: 'object';
  readonly key: string;
  readonly size: number;
  readonly etag: string;
  readonly lastModified: Date;
}

/** A "directory" in a non-recursive listing: keys continue below it. Ends with '/'. */
export interface PrefixEntry {
  readonly type: 'prefix';
  readonly prefix: string;
}
