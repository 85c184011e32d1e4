import { createServer } from 'node:net';
import { ErrorCode } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { MinioDriver, type MinioDriverOptions } from './minio-driver.js';

const options: MinioDriverOptions = {
  endPoint: '127.0.0.1',
  useSSL: false,
  accessKey: 'test-access',
  secretKey: 'test-secret',
  bucket: 'artifacts',
};

/** A loopback port with nothing listening, found by binding and releasing it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('MinioDriver', () => {
  it('rejects part and page sizes the S3 API cannot take', () => {
    expect(() => new MinioDriver({ ...options, partSize: 1024 })).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument }),
    );
    expect(() => new MinioDriver({ ...options, listPageSize: 1001 })).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument }),
    );
  });

  it('reports an unreachable server as retryable Unavailable', async () => {
    const store = new MinioDriver({ ...options, port: await closedPort() });
    await expect(store.init()).rejects.toMatchObject({
      code: ErrorCode.Unavailable,
      retryable: true,
    });
    await expect(store.put('a/b', Buffer.from('x'))).rejects.toMatchObject({
      code: ErrorCode.Unavailable,
    });
    await expect(store.stat('a/b')).rejects.toMatchObject({ code: ErrorCode.Unavailable });
  });

  it('validates keys before any request', async () => {
    const store = new MinioDriver({ ...options, port: await closedPort() });
    await expect(store.get('../x')).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
  });
});
