import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toJsonString } from '@bufbuild/protobuf';
import { otlpTraceService } from '@understudy/contracts';
import { startService, type RunningService } from '@understudy/service';
import { grpcurl, uniqueName } from '@understudy/testbed';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { settings } from '../config.js';
import { definition } from '../service.js';
import { chatSpan, exportRequest } from '../testing/otlp-requests.js';
import { OtlpGrpcServer } from './otlp-grpc.server.js';

const traceService = 'opentelemetry.proto.collector.trace.v1.TraceService';
const key = uniqueName('key');

let dir: string;
let collector: RunningService<typeof settings>;
let target: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'collector-grpcurl-'));
  const keysFile = join(dir, 'keys.json');
  const sha256 = createHash('sha256').update(key).digest('hex');
  await writeFile(keysFile, JSON.stringify([{ tenant: uniqueName('tenant'), sha256 }]));
  const { kafka, s3 } = inject('testbed');
  collector = await startService(definition, {
    UNDERSTUDY_KAFKA_BROKERS: kafka.brokers.join(','),
    UNDERSTUDY_S3_ENDPOINT: `http://${s3.endPoint}:${String(s3.port)}`,
    UNDERSTUDY_S3_REGION: s3.region,
    UNDERSTUDY_S3_BUCKET: uniqueName('collector'),
    UNDERSTUDY_S3_ACCESS_KEY: s3.accessKey,
    UNDERSTUDY_S3_SECRET_KEY: s3.secretKey,
    UNDERSTUDY_TENANT_KEYS_FILE: keysFile,
    UNDERSTUDY_COLLECTOR_REDACTION_SECRET: 'collector-grpcurl-test-redaction-secret-0123',
    UNDERSTUDY_HTTP_HOST: '127.0.0.1',
    UNDERSTUDY_HTTP_PORT: '0',
    UNDERSTUDY_GRPC_HOST: '127.0.0.1',
    UNDERSTUDY_GRPC_PORT: '0',
    UNDERSTUDY_OPS_HOST: '127.0.0.1',
    UNDERSTUDY_OPS_PORT: '0',
    UNDERSTUDY_LOG_LEVEL: 'silent',
  });
  target = `127.0.0.1:${String(collector.app.get(OtlpGrpcServer).port)}`;
});

afterAll(async () => {
  await collector.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Runs `grpcurl -plaintext <flags> <collector> <command…>`; its output, which must be a success. */
async function grpcurlAt(flags: string[], ...command: string[]): Promise<string> {
  const result = await grpcurl(target, flags, ...command);
  expect(result, result.stderr).toMatchObject({ exitCode: 0 });
  return result.stdout;
}

describe('grpcurl against the collector OTLP/gRPC port', () => {
  it('lists the OTLP services, health and reflection', async () => {
    const services = (await grpcurlAt([], 'list')).trim().split('\n');
    expect(services).toEqual([
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
      'opentelemetry.proto.collector.logs.v1.LogsService',
      traceService,
    ]);
  });

  it('describes Export from the descriptors and reports SERVING', async () => {
    const description = await grpcurlAt([], 'describe', traceService);
    expect(description).toContain(
      'rpc Export ( .opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest ) returns ( .opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse );',
    );
    const health = await grpcurlAt(
      ['-d', `{"service":"${traceService}"}`],
      'grpc.health.v1.Health/Check',
    );
    expect(JSON.parse(health)).toEqual({ status: 'SERVING' });
  });

  it('takes an export encoded by grpcurl from reflection, and refuses it without a key', async () => {
    const body = toJsonString(
      otlpTraceService.ExportTraceServiceRequestSchema,
      exportRequest([chatSpan()]),
    );
    const exported = await grpcurlAt(
      ['-H', `authorization: Bearer ${key}`, '-d', body],
      `${traceService}/Export`,
    );
    expect(JSON.parse(exported)).toEqual({});

    const refused = await grpcurl(target, ['-d', body], `${traceService}/Export`);
    expect(refused.exitCode).toBe(64 + 16);
    expect(refused.stderr).toContain('Code: Unauthenticated');
  });
});
