import { afterEach, describe, expect, it } from 'vitest';
import { evaluationRequestId, heldOutEvaluation, modelVersionOf } from '../domain/registration.js';
import { registryDoubleTeachers, startRegistryDouble } from '../testing/registry-double.js';
import { runId, succeededRun } from '../testing/runs.js';
import { GrpcModelRegistry } from './model-registry.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function connected() {
  const double = await startRegistryDouble();
  cleanups.push(() => double.server.shutdown());
  const registry = new GrpcModelRegistry(double.address, {
    metadata: { authorization: 'Bearer trainer-token' },
  });
  cleanups.push(() => {
    registry.close();
  });
  return { double, registry };
}

describe('GrpcModelRegistry', () => {
  it('sends the model version and its evaluation as built, with the service’s token', async () => {
    const { double, registry } = await connected();
    const run = succeededRun();
    const modelVersion = modelVersionOf(run);
    const modelVersionId = await registry.registerModelVersion(run.runId, modelVersion);
    expect(modelVersionId).toBe(`mv-${runId}`);
    const teachers = await registry.teacherModels(run.tenantId, run.datasetId);
    expect(teachers).toMatchObject(registryDoubleTeachers);
    const evaluation = heldOutEvaluation(run, modelVersionId, { exact_match: 0.7 }, teachers);
    if (evaluation === undefined) throw new Error('the run has an evaluation');
    const requestId = evaluationRequestId(run.runId);
    expect(await registry.createEvaluation(requestId, evaluation)).toBe(`ev-${requestId}`);

    expect(double.registered.map((r) => r.requestId)).toEqual([runId]);
    expect(double.registered[0]?.modelVersion).toEqual(modelVersion);
    expect(double.registered[0]?.modelVersion?.adapter?.files).toHaveLength(2);
    expect(double.evaluations.map((r) => r.requestId)).toEqual([requestId]);
    expect(double.evaluations[0]?.evaluation).toEqual(evaluation);
    expect(double.authorizations).toEqual(['Bearer trainer-token', 'Bearer trainer-token']);
  });
});
