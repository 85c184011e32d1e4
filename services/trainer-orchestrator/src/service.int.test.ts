import { create } from '@bufbuild/protobuf';
import {
  AdapterFormat,
  DatasetEventSchema,
  DatasetSplit,
  EvaluationKind,
  EvaluationVerdict,
  TrainerOrchestratorService,
  TrainingRunState,
  type TrainingRunEvent,
} from '@understudy/contracts';
import { ErrorCode } from '@understudy/errors';
import { createClient, GrpcServer } from '@understudy/grpc';
import { KafkaDriver, Messaging, topics } from '@understudy/messaging';
import { postgresUrl, startService, type RunningService } from '@understudy/service';
import { createDatabase, uniqueName, type PostgresEndpoint } from '@understudy/testbed';
import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { settings } from './config.js';
import { evaluationRequestId } from './domain/registration.js';
import { writeFakeTrainer } from './drivers/local/testing/fake-trainer.js';
import { definition } from './service.js';
import { startRegistryDouble, type RegistryDouble } from './testing/registry-double.js';

const { kafka, postgres } = inject('testbed');

let database: PostgresEndpoint;
let env: Record<string, string>;
let service: RunningService<typeof settings>;
let registry: RegistryDouble;
let messaging: Messaging;
const events: TrainingRunEvent[] = [];
/** The registry writer token the orchestrator is given. */
const registryToken = uniqueName('trainer-token');

const client = () =>
  createClient(TrainerOrchestratorService, `127.0.0.1:${String(service.app.get(GrpcServer).port)}`);
const eventsOf = (tenantId: string) => events.filter((event) => event.meta?.tenantId === tenantId);

beforeAll(async () => {
  database = await createDatabase(postgres, uniqueName('trainer'));
  registry = await startRegistryDouble();
  const { python } = await writeFakeTrainer();
  const tokenFile = join(await mkdtemp(join(tmpdir(), 'trainer-token-')), 'token');
  await writeFile(tokenFile, `${registryToken}\n`, { mode: 0o600 });
  env = {
    UNDERSTUDY_KAFKA_BROKERS: kafka.brokers.join(','),
    UNDERSTUDY_DATABASE_URL: postgresUrl(database),
    UNDERSTUDY_REGISTRY_ADDRESS: registry.address,
    UNDERSTUDY_REGISTRY_TOKEN_FILE: tokenFile,
    UNDERSTUDY_EVALUATION_MIN_METRICS: '{"exact_match": 0.7}',
    UNDERSTUDY_EXECUTOR: 'local',
    UNDERSTUDY_TRAINER_PYTHON: python,
    UNDERSTUDY_BASE_MODEL: 'fake-succeed',
    UNDERSTUDY_S3_ENDPOINT: 'http://127.0.0.1:9000',
    UNDERSTUDY_PROGRESS_INTERVAL_MS: '0',
    UNDERSTUDY_GRPC_HOST: '127.0.0.1',
    UNDERSTUDY_GRPC_PORT: '0',
    UNDERSTUDY_OPS_HOST: '127.0.0.1',
    UNDERSTUDY_OPS_PORT: '0',
    UNDERSTUDY_LOG_LEVEL: 'silent',
  };
  messaging = new Messaging({
    driver: new KafkaDriver({ brokers: kafka.brokers, clientId: 'trainer-orchestrator-test' }),
    producerName: 'dataset-builder',
  });
  messaging.on(topics.trainingRuns, { group: uniqueName('trainer-test') }, (event) => {
    events.push(event);
  });
  await messaging.start();
  service = await startService(definition, env);
});

afterAll(async () => {
  await service.stop();
  await messaging.stop();
  await registry.server.shutdown();
});

function datasetReady(tenantId: string, datasetId: string) {
  return create(DatasetEventSchema, {
    meta: { eventId: randomUUID(), tenantId, producer: 'dataset-builder' },
    datasetId,
    taskId: 'task-1',
    kind: {
      case: 'ready',
      value: {
        dataset: {
          datasetId,
          tenantId,
          taskId: 'task-1',
          manifest: { bucket: 'understudy', key: `datasets/${datasetId}/manifest.json` },
        },
      },
    },
  });
}

describe('trainer-orchestrator', () => {
  it('trains once per ready dataset, publishes the run’s events and registers the adapter', async () => {
    const tenantId = uniqueName('tenant');
    const datasetId = uniqueName('dataset');
    // Redelivery and replays: a second event for the same dataset must not start a second run.
    await messaging.publish(topics.datasets, datasetReady(tenantId, datasetId));
    await messaging.publish(topics.datasets, datasetReady(tenantId, datasetId));

    await expect
      .poll(() => eventsOf(tenantId).map((event) => event.kind.case), { timeout: 30_000 })
      .toEqual(['requested', 'started', 'progress', 'progress', 'succeeded']);
    const runId = eventsOf(tenantId)[0]?.runId ?? '';
    const evaluationId = evaluationRequestId(runId);
    await expect
      .poll(() => registry.evaluations.filter((r) => r.requestId === evaluationId).length)
      .toBe(1);
    expect(registry.registered.filter((r) => r.requestId === runId)).toHaveLength(1);
    expect(registry.authorizations).toContain(`Bearer ${registryToken}`);
    expect(registry.authorizations.every((value) => value === `Bearer ${registryToken}`)).toBe(
      true,
    );

    const orchestrator = client();
    try {
      const { runs } = await orchestrator.listTrainingRuns({ tenantId });
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({
        runId,
        datasetId,
        state: TrainingRunState.SUCCEEDED,
        attempt: 1,
        metrics: { train_loss: 1.5 },
        progress: { step: 2, totalSteps: 2 },
        adapter: { bucket: 'understudy', prefix: `training-runs/${tenantId}/${runId}/adapter/` },
        // An automated run: asked for by the service that published the dataset.
        requestedBy: 'dataset-builder',
        jobName: `trainer-${runId}`,
      });
      const [requested, started] = eventsOf(tenantId);
      expect(requested?.kind.case === 'requested' && requested.kind.value.run?.requestedBy).toBe(
        'dataset-builder',
      );
      const logs = { bucket: 'understudy', key: `training-runs/${tenantId}/${runId}/train.log` };
      expect(started?.kind.value).toMatchObject({ jobName: `trainer-${runId}`, logs });
      const succeeded = eventsOf(tenantId).at(-1);
      expect(succeeded?.meta).toMatchObject({ producer: 'trainer-orchestrator', tenantId });

      const folder = `training-runs/${tenantId}/${runId}/adapter/`;
      expect(registry.registered.find((r) => r.requestId === runId)?.modelVersion).toMatchObject({
        tenantId,
        runId,
        datasetId,
        baseModel: 'fake-succeed',
        license: 'apache-2.0',
        footprint: {
          baseParameterCount: 1_000_000n,
          adapterParameterCount: 24_576n,
          servingMemoryBytes: 4_098_304n,
          dtype: 'float32',
        },
        adapter: {
          prefix: folder,
          format: AdapterFormat.PEFT_LORA_SAFETENSORS,
          sizeBytes: 98_944n,
          files: [
            { key: `${folder}adapter_config.json`, sizeBytes: 640n, sha256: 'a'.repeat(64) },
            {
              key: `${folder}adapter_model.safetensors`,
              sizeBytes: 98_304n,
              sha256: 'b'.repeat(64),
            },
          ],
        },
      });
      expect(
        registry.evaluations.find((r) => r.requestId === evaluationId)?.evaluation,
      ).toMatchObject({
        tenantId,
        modelVersionId: `mv-${runId}`,
        kind: EvaluationKind.OFFLINE,
        datasetId,
        split: DatasetSplit.EVAL,
        evaluatorVersion: 'greedy-teacher-match@1',
        // The teacher with most examples in the dataset, as the registry serves it.
        teacherModel: 'gpt-4o-2024-08-06',
        exampleCount: 4n,
        metrics: { exact_match: 0.75, token_f1: 0.9 },
        // UNDERSTUDY_EVALUATION_MIN_METRICS asks for an exact_match of 0.7.
        verdict: EvaluationVerdict.PASSED,
      });
    } finally {
      orchestrator.close();
    }
  });

  it('submits idempotently by request id, watches progress and cancels', async () => {
    const tenantId = uniqueName('tenant');
    const orchestrator = client();
    try {
      const request = {
        requestId: randomUUID(),
        tenantId,
        taskId: 'task-2',
        datasetId: 'd-2',
        baseModel: 'fake-hang',
        config: { loraRank: 4 },
      };
      const { run } = await orchestrator.submitTrainingRun(request);
      expect(run?.state).toBe(TrainingRunState.QUEUED);
      // The orchestrator's server authenticates no caller (yet).
      expect(run?.requestedBy).toBe('anonymous');
      const runId = run?.runId ?? '';
      expect((await orchestrator.submitTrainingRun(request)).run?.runId).toBe(runId);
      await expect(
        orchestrator.submitTrainingRun({ ...request, baseModel: 'another' }),
      ).rejects.toMatchObject({ code: ErrorCode.AlreadyExists });

      const seen: TrainingRunState[] = [];
      const watching = (async () => {
        for await (const { run: update } of orchestrator.watchTrainingRun(
          { tenantId, runId },
          { timeoutMs: Infinity },
        )) {
          seen.push(update?.state ?? TrainingRunState.UNSPECIFIED);
        }
      })();
      await expect
        .poll(async () => (await orchestrator.getTrainingRun({ tenantId, runId })).run?.progress)
        .toMatchObject({ step: 1, totalSteps: 100 });

      const cancelled = await orchestrator.cancelTrainingRun({ tenantId, runId, reason: 'test' });
      expect(cancelled.run?.state).toBe(TrainingRunState.CANCELLED);
      await watching;
      expect(seen).toContain(TrainingRunState.RUNNING);
      expect(seen.at(-1)).toBe(TrainingRunState.CANCELLED);
      await expect
        .poll(() => eventsOf(tenantId).map((event) => event.kind.case))
        .toEqual(['requested', 'started', 'progress', 'cancelled']);
      expect(
        (await orchestrator.cancelTrainingRun({ tenantId, runId, reason: 'again' })).run?.state,
      ).toBe(TrainingRunState.CANCELLED);
      await expect(
        orchestrator.getTrainingRun({ tenantId: 'someone-else', runId }),
      ).rejects.toMatchObject({ code: ErrorCode.NotFound });
    } finally {
      orchestrator.close();
    }
  });

  it('resumes unfinished runs from PostgreSQL after a restart', async () => {
    const tenantId = uniqueName('tenant');
    let orchestrator = client();
    const { run } = await orchestrator.submitTrainingRun({
      requestId: randomUUID(),
      tenantId,
      taskId: 'task-3',
      datasetId: 'd-3',
      baseModel: 'fake-hang',
    });
    const runId = run?.runId ?? '';
    await expect
      .poll(async () => (await orchestrator.getTrainingRun({ tenantId, runId })).run?.state)
      .toBe(TrainingRunState.RUNNING);
    orchestrator.close();
    await service.stop();

    service = await startService(definition, env);
    orchestrator = client();
    try {
      // A local trainer does not outlive its orchestrator: the resumed run fails, retryably.
      await expect
        .poll(async () => (await orchestrator.getTrainingRun({ tenantId, runId })).run)
        .toMatchObject({
          state: TrainingRunState.FAILED,
          failure: { reason: 'the local trainer process was lost in a restart', retryable: true },
        });
      await expect.poll(() => eventsOf(tenantId).at(-1)?.kind.case).toBe('failed');
    } finally {
      orchestrator.close();
    }
  });
});
