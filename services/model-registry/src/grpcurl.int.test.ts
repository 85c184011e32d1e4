import { randomUUID } from 'node:crypto';
import { postgresUrl, type RunningService } from '@understudy/service';
import { createDatabase, grpcurl, uniqueName, type GrpcurlResult } from '@understudy/testbed';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { settings } from './config.js';
import { testToken } from './testing/principals.js';
import { startRegistry } from './testing/start.js';

const registryService = 'understudy.v1.ModelRegistryService';

let service: RunningService<typeof settings>;
let target: string;
/** `-H` flags that authenticate as an admin of every tenant. */
let asAdmin: string[];
/** The token of a reader of tenant acme alone. */
const acmeReader = testToken('acme-reader');

beforeAll(async () => {
  const { kafka, postgres } = inject('testbed');
  const database = await createDatabase(postgres, uniqueName('registry-grpcurl'));
  const registry = await startRegistry(kafka.brokers, postgresUrl(database), {
    principals: [
      { subject: 'acme-reader', token: acmeReader, roles: ['reader'], tenants: ['acme'] },
    ],
  });
  ({ service, address: target } = registry);
  asAdmin = ['-H', `authorization: Bearer ${registry.adminToken}`];
});

afterAll(async () => {
  await service.stop();
});

/**
 * Runs `grpcurl -plaintext -H 'authorization: Bearer <admin token>' [-d body] <registry>
 * <command…>`; resolves whatever its exit status.
 */
function grpcurlAt(body: unknown, ...command: string[]): Promise<GrpcurlResult> {
  return grpcurl(
    target,
    [...asAdmin, ...(body === undefined ? [] : ['-d', JSON.stringify(body)])],
    ...command,
  );
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
    // Each method with the role it needs, as the registry enforces it.
    for (const [rpc, role] of [
      ['CreateDataset', 'WRITER'],
      ['GetModelVersion', 'READER'],
      ['ListModelVersions', 'READER'],
      ['PromoteModelVersion', 'WRITER'],
      ['ApproveModelVersion', 'APPROVER'],
      ['UpdatePromotionPolicy', 'ADMIN'],
    ]) {
      expect(description).toContain(
        `rpc ${rpc} ( .understudy.v1.${rpc}Request ) returns ( .understudy.v1.${rpc}Response ) {\n` +
          `    option (.understudy.v1.required_role) = ACCESS_ROLE_${role};`,
      );
    }
    expect(description).toContain(
      'rpc WatchRoutingTable ( .understudy.v1.WatchRoutingTableRequest ) returns ( stream .understudy.v1.WatchRoutingTableResponse ) {',
    );

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
      train: { bucket: 'datasets', key: `${datasetId}/train.jsonl`, sha256: 'ab'.repeat(32) },
      eval: { bucket: 'datasets', key: `${datasetId}/eval.jsonl`, sha256: 'cd'.repeat(32) },
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

  it('answers Unauthenticated without a token and PermissionDenied for a tenant not its own', async () => {
    const body = JSON.stringify({ tenantId: 'acme', modelVersionId: randomUUID() });
    const anonymous = await grpcurl(target, ['-d', body], `${registryService}/GetModelVersion`);
    expect(anonymous.exitCode).toBe(64 + 16); // UNAUTHENTICATED
    expect(anonymous.stderr).toContain('Code: Unauthenticated');

    const wrongToken = await grpcurl(
      target,
      ['-H', 'authorization: Bearer not-a-known-token', '-d', body],
      `${registryService}/GetModelVersion`,
    );
    expect(wrongToken.exitCode).toBe(64 + 16);
    expect(wrongToken.stderr).not.toContain('not-a-known-token');

    const foreign = await grpcurl(
      target,
      ['-H', `authorization: Bearer ${acmeReader}`, '-d', JSON.stringify({ tenantId: 'globex' })],
      `${registryService}/GetRoutingTable`,
    );
    expect(foreign.exitCode).toBe(64 + 7); // PERMISSION_DENIED
    expect(foreign.stderr).toContain('Message: acme-reader may not act for tenant globex');
    const own = await grpcurl(
      target,
      ['-H', `authorization: Bearer ${acmeReader}`, '-d', '{}'],
      `${registryService}/GetRoutingTable`,
    );
    expect(own, own.stderr).toMatchObject({ exitCode: 0 });
  });
});
