import { randomUUID } from 'node:crypto';
import { postgresUrl, type RunningService } from '@understudy/service';
import { createDatabase, grpcurl, uniqueName, type GrpcurlResult } from '@understudy/testbed';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { settings } from './config.js';
import { startRegistry } from './testing/start.js';

const registryService = 'understudy.v1.ModelRegistryService';

let service: RunningService<typeof settings>;
let target: string;

beforeAll(async () => {
  const { kafka, postgres } = inject('testbed');
  const database = await createDatabase(postgres, uniqueName('registry-grpcurl'));
  ({ service, address: target } = await startRegistry(kafka.brokers, postgresUrl(database)));
});

afterAll(async () => {
  await service.stop();
});

/** Runs `grpcurl -plaintext [-d body] <registry> <command…>`; resolves whatever its exit status. */
function grpcurlAt(body: unknown, ...command: string[]): Promise<GrpcurlResult> {
  return grpcurl(target, body === undefined ? [] : ['-d', JSON.stringify(body)], ...command);
}

/** The output of a grpcurl run that must succeed. */
async function grpcurlOk(body: unknown, ...command: string[]): Promise<string> {
  const result = await grpcurlAt(body, ...command);
  expect(result, result.stderr).toMatchObject({ exitCode: 0 });
  return result.stdout;
}

/** A unary call, through reflection, that must succeed; its response as JSON. */
async function call(method: string, body: unknown): Promise<unknown> {
  return JSON.parse(await grpcurlOk(body, `${registryService}/${method}`)) as unknown;
}

describe('grpcurl against the model registry, without .proto files', () => {
  it('lists the registry, health and reflection services', async () => {
    const services = (await grpcurlOk(undefined, 'list')).trim().split('\n');
    expect(services).toEqual([
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
      registryService,
    ]);
  });

  it('describes the service and its request messages from the descriptors', async () => {
    const description = await grpcurlOk(undefined, 'describe', registryService);
    expect(description).toContain(`${registryService} is a service:`);
    for (const rpc of [
      'rpc CreateDataset ( .understudy.v1.CreateDatasetRequest ) returns ( .understudy.v1.CreateDatasetResponse );',
      'rpc GetModelVersion ( .understudy.v1.GetModelVersionRequest ) returns ( .understudy.v1.GetModelVersionResponse );',
      'rpc ListModelVersions ( .understudy.v1.ListModelVersionsRequest ) returns ( .understudy.v1.ListModelVersionsResponse );',
      'rpc PromoteModelVersion ( .understudy.v1.PromoteModelVersionRequest ) returns ( .understudy.v1.PromoteModelVersionResponse );',
      'rpc WatchRoutingTable ( .understudy.v1.WatchRoutingTableRequest ) returns ( stream .understudy.v1.WatchRoutingTableResponse );',
    ]) {
      expect(description).toContain(rpc);
    }

    const request = await grpcurlOk(undefined, 'describe', 'understudy.v1.GetModelVersionRequest');
    expect(request).toContain('understudy.v1.GetModelVersionRequest is a message:');
    expect(request).toContain('string tenant_id = 1;');
    expect(request).toContain('string model_version_id = 2;');

    // Reached only through imports of registry_service.proto.
    const version = await grpcurlOk(undefined, 'describe', 'understudy.v1.ModelVersion');
    expect(version).toContain('.understudy.v1.ModelStage stage = 10;');
    expect(version).toContain('.google.protobuf.Timestamp created_at = 16;');
  });

  it('answers SERVING to Health/Check, for the server and for the registry', async () => {
    for (const name of ['', registryService]) {
      const health = await grpcurlOk({ service: name }, 'grpc.health.v1.Health/Check');
      expect(JSON.parse(health)).toEqual({ status: 'SERVING' });
    }
  });

  it('creates and registers from JSON bodies and reads them back as JSON', async () => {
    const tenantId = uniqueName('tenant');
    const taskId = uniqueName('task');
    const datasetId = randomUUID();
    const dataset = {
      datasetId,
      tenantId,
      taskId,
      trainExampleCount: '80',
      evalExampleCount: '20',
      sourceWindow: { startTime: '2026-01-01T00:00:00Z', endTime: '2026-01-08T00:00:00Z' },
    };
    const created = await call('CreateDataset', { requestId: randomUUID(), dataset });
    expect(created).toEqual({
      dataset: { ...dataset, version: 1, createdAt: expect.any(String) as unknown },
    });

    const listed = await call('ListDatasets', { tenantId, taskId });
    expect(listed).toEqual({ datasets: [(created as { dataset: unknown }).dataset] });

    const registered = (await call('RegisterModelVersion', {
      requestId: randomUUID(),
      modelVersion: {
        tenantId,
        taskId,
        runId: randomUUID(),
        datasetId,
        baseModel: 'tiny-random:llama',
        adapter: { bucket: 'understudy', prefix: 'runs/x/adapter/' },
        metrics: { train_loss: 0.5 },
      },
    })) as { modelVersion?: { modelVersionId?: string } };
    expect(registered.modelVersion).toMatchObject({
      tenantId,
      taskId,
      datasetId,
      version: 1,
      stage: 'MODEL_STAGE_REGISTERED',
      metrics: { train_loss: 0.5 },
    });
    const modelVersionId = registered.modelVersion?.modelVersionId ?? '';
    expect(modelVersionId).not.toBe('');

    const fetched = await call('GetModelVersion', { tenantId, modelVersionId });
    expect(fetched).toEqual(registered);
  });

  it('fails with the mapped gRPC status, as exit code and message', async () => {
    const tenantId = uniqueName('tenant');
    const unknownId = randomUUID();
    const missing = await grpcurlAt(
      { tenantId, modelVersionId: unknownId },
      `${registryService}/GetModelVersion`,
    );
    expect(missing.exitCode).toBe(64 + 5); // NOT_FOUND
    expect(missing.stderr).toContain('Code: NotFound');
    expect(missing.stderr).toContain(`Message: model version ${unknownId} not found`);

    const invalid = await grpcurlAt(
      { modelVersionId: unknownId },
      `${registryService}/GetModelVersion`,
    );
    expect(invalid.exitCode).toBe(64 + 3); // INVALID_ARGUMENT
    expect(invalid.stderr).toContain('Code: InvalidArgument');
    expect(invalid.stderr).toContain('Message: tenant_id must be set');
  });
});
