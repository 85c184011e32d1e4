import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { ErrorCode, isRetryable } from '@understudy/errors';
import { createLogger } from '@understudy/telemetry';
// Integration tests need the test bed (shared servers, and their own for restarts); nothing
// outside *.int.test.ts imports it.
import { startMinio, type MinioServer, type S3Endpoint } from '@understudy/testbed';
import { Client, type IncompleteUploadedBucketItem } from 'minio';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MinioDriver, type MinioDriverOptions } from './minio-driver.js';
import { describeObjectStore } from './testing/describe-object-store.js';

const MiB = 1024 * 1024;
const s3: S3Endpoint = inject('testbed').s3;
const bucket = `storage-int-${randomBytes(4).toString('hex')}`;

/** Small parts and pages, so a 12 MiB body goes up in parts and listings span many pages. */
function driverOptions(endpoint: S3Endpoint, overrides: Partial<MinioDriverOptions> = {}) {
  return {
    ...endpoint,
    bucket,
    createBucket: true,
    partSize: 5 * MiB,
    listPageSize: 4,
    ...overrides,
  } satisfies MinioDriverOptions;
}

/** A plain client, to look at what the driver left in the bucket. */
const raw = new Client({ ...s3, pathStyle: true });

async function incompleteUploads(prefix: string): Promise<IncompleteUploadedBucketItem[]> {
  const uploads: IncompleteUploadedBucketItem[] = [];
  for await (const upload of raw.listIncompleteUploads(bucket, prefix, true)) {
    uploads.push(upload as IncompleteUploadedBucketItem);
  }
  return uploads;
}

/**
 * A MinIO that just came up answers 503 for a moment after its health check passes; callers
 * are expected to retry what the store marks retryable, as this does.
 */
async function eventually<T>(work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return await work();
    } catch (error) {
      if (!isRetryable(error) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describeObjectStore('minio', async () => {
  const store = new MinioDriver(driverOptions(s3));
  await store.init();
  return store;
});

describe('MinioDriver against MinIO', () => {
  const store = new MinioDriver(driverOptions(s3));

  beforeAll(async () => {
    await store.init();
  });

  it('keeps the hash as x-amz-meta-sha256 and caller metadata apart', async () => {
    const put = await store.put('format/one', Buffer.from('payload'), {
      metadata: { sha256: 'not-the-hash', tenant: 'acme corp' },
    });
    const stat = await raw.statObject(bucket, 'format/one');
    expect(stat.metaData).toMatchObject({
      sha256: put.sha256,
      'u-sha256': 'not-the-hash',
      'u-tenant': 'acme%20corp',
    });
    expect(await store.stat('format/one')).toMatchObject({
      sha256: put.sha256,
      metadata: { sha256: 'not-the-hash', tenant: 'acme corp' },
    });
  });

  it('uploads a large streamed body in parts and records its hash afterwards', async () => {
    const lines: { message?: string; parts?: number }[] = [];
    const logged = new MinioDriver({
      ...driverOptions(s3),
      logger: createLogger('storage-int-test', {
        level: 'debug',
        destination: { write: (line: string) => lines.push(JSON.parse(line) as never) },
      }),
    });
    const chunks = Array.from({ length: 12 }, () => randomBytes(MiB));

    const put = await logged.put('format/streamed', Readable.from(chunks));

    expect(lines).toContainEqual(
      expect.objectContaining({ message: 'Stored object in parts', parts: 3 }),
    );
    const stat = await raw.statObject(bucket, 'format/streamed');
    expect(stat.metaData).toMatchObject({ sha256: put.sha256 });
    expect(stat.etag).toBe(put.etag);
  });

  it('uploads a large Buffer in parts with its hash from the start', async () => {
    const body = randomBytes(12 * MiB);
    const put = await store.put('format/buffer', body);
    // S3 marks a multipart object's ETag with its part count; no copy rewrote this one.
    expect(put.etag).toMatch(/-3$/);
    expect((await raw.statObject(bucket, 'format/buffer')).metaData).toMatchObject({
      sha256: put.sha256,
    });
  });

  it('aborts the multipart upload of a body that fails', async () => {
    async function* broken(): AsyncGenerator<Buffer> {
      yield randomBytes(11 * MiB);
      await Promise.resolve();
      throw new Error('source broke');
    }
    await expect(store.put('aborted/big', Readable.from(broken()))).rejects.toThrow();
    expect(await incompleteUploads('aborted/')).toEqual([]);
    expect(await store.exists('aborted/big')).toBe(false);
  });

  it('reads objects written by other tools, which carry no hash', async () => {
    await raw.putObject(bucket, 'foreign/file', Buffer.from('abc'), 3, {
      'Content-Type': 'text/plain',
    });
    const stat = await store.stat('foreign/file');
    expect(stat).toMatchObject({ size: 3, contentType: 'text/plain', metadata: {} });
    expect(stat.sha256).toBeUndefined();
  });

  it('creates its bucket only when allowed, and tolerates an existing one', async () => {
    const missing = `storage-none-${randomBytes(4).toString('hex')}`;
    const strict = new MinioDriver(driverOptions(s3, { bucket: missing, createBucket: false }));
    await expect(strict.init()).rejects.toMatchObject({ code: ErrorCode.FailedPrecondition });
    await expect(strict.put('a', Buffer.from('x'))).rejects.toMatchObject({
      code: ErrorCode.FailedPrecondition,
    });
    await store.init();
  });

  it('refuses bad credentials without retry', async () => {
    const intruder = new MinioDriver(driverOptions(s3, { secretKey: 'wrong-secret-key' }));
    const failure = intruder.put('a/b', Buffer.from('x'));
    await expect(failure).rejects.toMatchObject({ retryable: false });
    await expect(failure).rejects.toSatisfy((error: { code: string }) =>
      [ErrorCode.Unauthenticated, ErrorCode.PermissionDenied].some((code) => code === error.code),
    );
  });
});

describe('MinioDriver when the server goes away', () => {
  let server: MinioServer;
  let store: MinioDriver;

  beforeAll(async () => {
    server = await startMinio({ name: 'storage-restart' });
    store = new MinioDriver(driverOptions(server.endpoint));
    await eventually(() => store.init());
  }, 120_000);

  afterAll(async () => {
    await server.stop();
  });

  it('fails with retryable Unavailable while it is down and recovers after', async () => {
    await store.put('survives/restart', Buffer.from('durable'));
    const restart = { done: false };
    const restarting = server.restart().finally(() => {
      restart.done = true;
    });
    // While the server is down or starting, calls fail fast and say they may be retried.
    const failures: unknown[] = [];
    while (!restart.done && failures.length === 0) {
      await store.stat('survives/restart').catch((error: unknown) => failures.push(error));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await restarting;
    expect(failures[0]).toMatchObject({ code: ErrorCode.Unavailable, retryable: true });

    const stat = await eventually(() => store.stat('survives/restart'));
    expect(stat.size).toBe(7);
  }, 120_000);
});
