import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { silentLogger, type Logger } from '@understudy/telemetry';
import { Client, CopyDestinationOptions, CopySourceOptions, S3Error } from 'minio';
import { bytesOf, chunksOf, Digest } from './bytes.js';
import { Instruments } from './instruments.js';
import { fromMinioError } from './minio-errors.js';
import type {
  ByteRange,
  ListEntry,
  ListOptions,
  ObjectStat,
  ObjectStore,
  PutOptions,
  PutResult,
} from './object-store.js';
import {
  DEFAULT_CONTENT_TYPE,
  validateKey,
  validatePrefix,
  validatePutOptions,
  validateRange,
} from './validation.js';

const MiB = 1024 * 1024;
const MIN_PART_SIZE = 5 * MiB;
const MAX_PART_SIZE = 5 * 1024 * MiB;
const MAX_PARTS = 10_000;

// The hash has its own header; caller metadata lives under `u-` so that no caller key can
// shadow it or a standard header that the client folds into the same map on stat.
const SHA256_HEADER = 'x-amz-meta-sha256';
const USER_PREFIX = 'u-';

export interface MinioDriverOptions {
  readonly endPoint: string;
  readonly port?: number;
  readonly useSSL: boolean;
  readonly accessKey: string;
  readonly secretKey: string;
  /** Given, it spares a bucket-location request; defaults to us-east-1. */
  readonly region?: string;
  readonly bucket: string;
  /** Let init() create a missing bucket; otherwise a missing bucket fails init() with FailedPrecondition. */
  readonly createBucket?: boolean;
  /**
   * Bodies larger than this go up in parts of this size (5 MiB to 5 GiB; default 16 MiB). One
   * part per put is held in memory; an object holds at most 10,000 parts.
   */
  readonly partSize?: number;
  /** Entries per list request, 1 to 1000 (default 1000). */
  readonly listPageSize?: number;
  readonly logger?: Logger;
}

/**
 * Objects in one bucket of MinIO (or another S3 store), through the `minio` client.
 *
 * A body that fits in one part is hashed, then stored with a single PUT that carries the hash
 * as metadata. A larger body is streamed up in parts while it is hashed; as S3 fixes metadata
 * when an upload starts, the hash is then recorded by copying the object onto itself with
 * replaced metadata, guarded by the ETag so a concurrent overwrite is never clobbered. MinIO
 * performs that copy server-side (no bytes cross the network again) but rewrites the object,
 * so a large streamed put costs one extra server-side write; a Buffer body is hashed up front
 * and needs no copy. Until the copy lands, or if the process dies before it, the object has
 * no recorded hash (`stat().sha256` is undefined).
 */
export class MinioDriver implements ObjectStore {
  readonly #client: Client;
  readonly #bucket: string;
  readonly #region: string;
  readonly #createBucket: boolean;
  readonly #partSize: number;
  readonly #pageSize: number;
  readonly #logger: Logger;
  readonly #instruments = new Instruments('minio', fromMinioError, true);

  constructor(options: MinioDriverOptions) {
    this.#partSize = options.partSize ?? 16 * MiB;
    this.#pageSize = options.listPageSize ?? 1000;
    if (
      !Number.isSafeInteger(this.#partSize) ||
      this.#partSize < MIN_PART_SIZE ||
      this.#partSize > MAX_PART_SIZE
    ) {
      throw new UnderstudyError(ErrorCode.InvalidArgument, 'partSize must be 5 MiB to 5 GiB', {
        details: { partSize: this.#partSize },
      });
    }
    if (!Number.isSafeInteger(this.#pageSize) || this.#pageSize < 1 || this.#pageSize > 1000) {
      throw new UnderstudyError(ErrorCode.InvalidArgument, 'listPageSize must be 1 to 1000', {
        details: { listPageSize: this.#pageSize },
      });
    }
    this.#bucket = options.bucket;
    this.#region = options.region ?? 'us-east-1';
    this.#createBucket = options.createBucket ?? false;
    this.#logger = (options.logger ?? silentLogger).child({
      component: 'storage.minio',
      bucket: options.bucket,
    });
    this.#client = new Client({
      endPoint: options.endPoint,
      ...(options.port === undefined ? {} : { port: options.port }),
      useSSL: options.useSSL,
      accessKey: options.accessKey,
      secretKey: options.secretKey,
      region: this.#region,
      pathStyle: true,
      // Equal to ours, so the client sends every body we hand to putObject (one part at most)
      // as a single PUT instead of starting a multipart upload of its own.
      partSize: this.#partSize,
      // Callers decide about retries (retryable errors); the client's own would re-send streams.
      retryOptions: { disableRetry: true },
    });
  }

  async init(): Promise<void> {
    await this.#instruments.measure('init', undefined, async () => {
      if (await this.#client.bucketExists(this.#bucket)) return;
      if (!this.#createBucket) {
        throw new UnderstudyError(
          ErrorCode.FailedPrecondition,
          `Bucket ${this.#bucket} does not exist`,
          { details: { bucket: this.#bucket } },
        );
      }
      try {
        await this.#client.makeBucket(this.#bucket, this.#region);
        this.#logger.info({}, 'Created bucket');
      } catch (error) {
        // Another replica created it first.
        if (!(error instanceof S3Error && error.code === 'BucketAlreadyOwnedByYou')) throw error;
      }
    });
  }

  async put(key: string, body: Buffer | Readable, options: PutOptions = {}): Promise<PutResult> {
    return this.#instruments.measurePut(key, body, () => this.#put(key, body, options));
  }

  async #put(key: string, body: Buffer | Readable, options: PutOptions): Promise<PutResult> {
    validateKey(key);
    validatePutOptions(options);
    const parts = chunksOf(bytesOf(body), this.#partSize);
    const first = await parts.next();
    if (first.done === true || first.value.length < this.#partSize) {
      return this.#putSingle(key, first.done === true ? Buffer.alloc(0) : first.value, options);
    }
    const knownSha256 = Buffer.isBuffer(body) ? sha256Of(body) : undefined;
    return this.#putMultipart(key, first.value, parts, options, knownSha256);
  }

  async #putSingle(key: string, body: Buffer, options: PutOptions): Promise<PutResult> {
    const sha256 = sha256Of(body);
    const uploaded = await this.#client.putObject(
      this.#bucket,
      key,
      body,
      body.length,
      headersFor(options, sha256),
    );
    return { key, size: body.length, sha256, etag: uploaded.etag };
  }

  async #putMultipart(
    key: string,
    first: Buffer,
    rest: AsyncIterable<Buffer>,
    options: PutOptions,
    knownSha256: string | undefined,
  ): Promise<PutResult> {
    const uploadId = await this.#client.initiateNewMultipartUpload(
      this.#bucket,
      key,
      headersFor(options, knownSha256),
    );
    const digest = new Digest();
    const parts: { part: number; etag: string }[] = [];
    let etag: string;
    try {
      for await (const chunk of prepend(first, rest)) {
        const part = parts.length + 1;
        if (part > MAX_PARTS) {
          throw new UnderstudyError(
            ErrorCode.PayloadTooLarge,
            `Object ${key} exceeds ${MAX_PARTS} parts of ${this.#partSize} bytes`,
            { details: { key, partSize: this.#partSize } },
          );
        }
        digest.update(chunk);
        const uploaded = await this.#client.uploadPart(
          {
            bucketName: this.#bucket,
            objectName: key,
            uploadID: uploadId,
            partNumber: part,
            headers: {},
          },
          chunk,
        );
        parts.push({ part, etag: uploaded.etag });
      }
      ({ etag } = await this.#client.completeMultipartUpload(this.#bucket, key, uploadId, parts));
    } catch (error) {
      await this.#client
        .abortMultipartUpload(this.#bucket, key, uploadId)
        .catch((abortError: unknown) => {
          this.#logger.warn({ key, uploadId, err: abortError }, 'Could not abort multipart upload');
        });
      throw error;
    }
    const sha256 = knownSha256 ?? digest.hex();
    if (knownSha256 === undefined) etag = await this.#recordSha256(key, etag, options, sha256);
    this.#logger.debug({ key, size: digest.size, parts: parts.length }, 'Stored object in parts');
    return { key, size: digest.size, sha256, etag };
  }

  /** Returns the object's new ETag: MinIO rewrites the object, so it no longer shows the parts. */
  async #recordSha256(
    key: string,
    etag: string,
    options: PutOptions,
    sha256: string,
  ): Promise<string> {
    try {
      const copied = await this.#client.copyObject(
        new CopySourceOptions({ Bucket: this.#bucket, Object: key, MatchETag: etag }),
        new CopyDestinationOptions({
          Bucket: this.#bucket,
          Object: key,
          MetadataDirective: 'REPLACE',
          Headers: headersFor(options, sha256),
        }),
      );
      // The client reads the new ETag from a response header, which not every S3 store sends.
      const copiedEtag = 'Etag' in copied ? copied.Etag : undefined;
      return copiedEtag !== undefined && copiedEtag !== ''
        ? copiedEtag
        : (await this.#client.statObject(this.#bucket, key)).etag;
    } catch (error) {
      // Overwritten meanwhile: the later writer's object stands, as it would have anyway.
      if (error instanceof S3Error && error.code === 'PreconditionFailed') return etag;
      throw error;
    }
  }

  async get(key: string): Promise<Readable> {
    return this.#instruments.measure('get', key, async () => {
      validateKey(key);
      return this.#instruments.reader(await this.#client.getObject(this.#bucket, key));
    });
  }

  async getRange(key: string, range: ByteRange): Promise<Readable> {
    return this.#instruments.measure('get', key, async () => {
      validateKey(key);
      validateRange(range);
      const body = await this.#client.getPartialObject(
        this.#bucket,
        key,
        range.offset,
        range.length ?? 0,
      );
      return this.#instruments.reader(body);
    });
  }

  async stat(key: string): Promise<ObjectStat> {
    return this.#instruments.measure('stat', key, async () => {
      validateKey(key);
      const info = await this.#client.statObject(this.#bucket, key);
      const headers = info.metaData as Record<string, unknown>;
      const metadata: Record<string, string> = {};
      for (const [name, value] of Object.entries(headers)) {
        if (name.startsWith(USER_PREFIX) && typeof value === 'string') {
          metadata[name.slice(USER_PREFIX.length)] = decodeValue(value);
        }
      }
      const sha256 = headers['sha256'];
      const contentType = headers['content-type'];
      return {
        key,
        size: info.size,
        ...(typeof sha256 === 'string' ? { sha256 } : {}),
        etag: info.etag,
        contentType: typeof contentType === 'string' ? contentType : DEFAULT_CONTENT_TYPE,
        lastModified: info.lastModified,
        metadata,
      };
    });
  }

  async exists(key: string): Promise<boolean> {
    return this.#instruments.measure('stat', key, async () => {
      validateKey(key);
      try {
        await this.#client.statObject(this.#bucket, key);
        return true;
      } catch (error) {
        if (fromMinioError(error).code === ErrorCode.NotFound) return false;
        throw error;
      }
    });
  }

  async delete(key: string): Promise<void> {
    await this.#instruments.measure('delete', key, async () => {
      validateKey(key);
      // S3 answers a delete of a missing key with success.
      await this.#client.removeObject(this.#bucket, key);
    });
  }

  list(prefix: string, options: ListOptions = {}): AsyncIterable<ListEntry> {
    return this.#instruments.measureList(prefix, this.#list(prefix, options.recursive ?? false));
  }

  /**
   * Pages through ListObjects (v1): the client's v2 parser turns numeric-looking keys such as
   * `007` into numbers. Each page resumes after the last entry of the previous one; S3 skips a
   * whole common prefix when the marker is that prefix.
   */
  async *#list(prefix: string, recursive: boolean): AsyncGenerator<ListEntry> {
    validatePrefix(prefix);
    let marker = '';
    for (;;) {
      const page = await this.#client.listObjectsQuery(this.#bucket, prefix, marker, {
        Delimiter: recursive ? '' : '/',
        MaxKeys: this.#pageSize,
      });
      const entries = page.objects
        .flatMap((item): ListEntry[] => {
          if (item.prefix !== undefined) return [{ type: 'prefix', prefix: item.prefix }];
          if (item.name === undefined) return [];
          return [
            {
              type: 'object',
              key: item.name,
              size: item.size ?? 0,
              etag: item.etag ?? '',
              lastModified: item.lastModified ?? new Date(0),
            },
          ];
        })
        .sort((a, b) => Buffer.compare(Buffer.from(nameOf(a)), Buffer.from(nameOf(b))));
      yield* entries;
      const last = entries.at(-1);
      if (page.isTruncated !== true || last === undefined) return;
      marker = nameOf(last);
    }
  }
}

function headersFor(options: PutOptions, sha256: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {
    'Content-Type': options.contentType ?? DEFAULT_CONTENT_TYPE,
  };
  if (sha256 !== undefined) headers[SHA256_HEADER] = sha256;
  for (const [name, value] of Object.entries(options.metadata ?? {})) {
    // Header values must be ASCII; percent-encoding keeps any text intact and plain text readable.
    headers[`x-amz-meta-${USER_PREFIX}${name}`] = encodeURIComponent(value);
  }
  return headers;
}

function sha256Of(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

function decodeValue(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    // Written by another tool without our encoding.
    return value;
  }
}

function nameOf(entry: ListEntry): string {
  return entry.type === 'object' ? entry.key : entry.prefix;
}

async function* prepend(first: Buffer, rest: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  yield first;
  yield* rest;
}
