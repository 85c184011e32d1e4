import { Client } from 'minio';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { S3Endpoint } from './endpoints.js';
import { startMinio, type MinioServer } from './minio.js';
import { uniqueName } from './names.js';

async function roundTrip(s3: Client, bucket: string, key: string, body: string): Promise<void> {
  await s3.putObject(bucket, key, Buffer.from(body));
}

async function read(s3: Client, bucket: string, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of await s3.getObject(bucket, key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function client(endpoint: S3Endpoint): Client {
  return new Client(endpoint);
}

describe('MinIO', () => {
  it('the shared server stores and returns objects', async () => {
    const s3 = client(inject('testbed').s3);
    const bucket = uniqueName('testbed');
    await s3.makeBucket(bucket, inject('testbed').s3.region);
    await roundTrip(s3, bucket, 'a/b.txt', 'hello');
    expect(await read(s3, bucket, 'a/b.txt')).toBe('hello');
  });

  it('rejects a wrong secret key', async () => {
    const s3 = client({ ...inject('testbed').s3, secretKey: 'not-the-secret' });
    await expect(s3.listBuckets()).rejects.toMatchObject({ code: 'SignatureDoesNotMatch' });
  });

  describe('an own server', () => {
    let server: MinioServer;

    beforeAll(async () => {
      server = await startMinio({ name: 'minio-restart' });
    });

    afterAll(async () => {
      await server.stop();
    });

    it('keeps its objects across a restart', async () => {
      const bucket = uniqueName('durable');
      const s3 = client(server.endpoint);
      await s3.makeBucket(bucket, server.endpoint.region);
      await roundTrip(s3, bucket, 'kept', 'across restarts');
      await server.restart();
      expect(await read(client(server.endpoint), bucket, 'kept')).toBe('across restarts');
    });
  });
});
