import { createHash, randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { buffer, text as streamText } from 'node:stream/consumers';
import {
  AdapterFormat,
  ClustererService,
  DatasetFormat,
  DatasetSplit,
  EvaluationKind,
  ModelRegistryService,
  ModelStage,
  TrainerOrchestratorService,
  TrainingRunState,
  type Dataset,
  type ModelVersion,
  type Task,
  type TrainingRunEvent,
} from '@understudy/contracts';
import { ErrorCode } from '@understudy/errors';
import { createClient, type Client } from '@understudy/grpc';
import { MinioDriver } from '@understudy/storage';
import {
  createDatabase,
  freePort,
  startKafka,
  trainerPython,
  uniqueName,
  type TrainerPython,
} from '@understudy/testbed';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  agentTraffic,
  invoiceRequest,
  llmModel,
  oneOffRequests,
  orderLookupRequest,
  runAgents,
  type ChatCompletion,
  type ChatRequest,
  type Job,
  type SimulatedCall,
} from './agent-simulator.js';
import { EventTap } from './event-tap.js';
import { startFakeLlm, teacher, type FakeLlm } from './fake-llm.js';
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js';
import { startPlatform, writeRegistryAccess, writeTenantKeys, type Platform } from './platform.js';
import { serveAdapter } from './trainer.js';

/**
 * The whole loop on real infrastructure: agents' OTLP spans → collector → embedder → clusterer
 * → dataset builder → trainer orchestrator (a real LoRA run on a tiny model) → model registry →
 * promotion by an operator → gateway routing the trained task to the adapter's server and the
 * rest to the LLM. Every hop is asserted on what it publishes, stores or answers.
 */

const callsPerTask = 6;
const oneOffCount = 3;
const tasks = ['invoice', 'order-lookup'] as const;
const scale = {
  minTaskSize: 5,
  reclusterAfterCalls: tasks.length * callsPerTask + oneOffCount,
  minDatasetCalls: 5,
  evalFraction: 0.2,
  baseModel: 'tiny-random:qwen2',
  // Small but real: every step runs transformers, PEFT and TRL on CPU.
  trainingConfig: { epochs: 2, lora_r: 4, eval_max_new_tokens: 16 },
};
type TaskJob = (typeof tasks)[number];

const testbed = inject('testbed');
const tenantId = uniqueName('tenant');
const apiKey = uniqueName('key');
/** The registry token of the operator, an admin of the tenant, whom the test plays. */
const operatorToken = uniqueName('operator-token');
const bucket = uniqueName('e2e');

let llm: FakeLlm;
let otlp: OtlpReceiver;
let trainer: TrainerPython;
let platform: Platform;
let tap: EventTap;
let servingPort: number;
let logDir: string;
let registry: Client<typeof ModelRegistryService>;
let clusterer: Client<typeof ClustererService>;
let orchestrator: Client<typeof TrainerOrchestratorService>;
const store = new MinioDriver({ ...testbed.s3, bucket });
/** What was started, stopped in reverse order, however far the start got. */
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  // A broker of its own: the services' consumer groups have fixed names (`clusterer`,
  // `dataset-builder`…), which the other test files' instances of them join on the shared one.
  const kafka = await startKafka({ name: 'e2e' });
  cleanups.push(() => kafka.stop());
  // The broker's folder, .state/testbed/<run>/e2e/, keeps the platform's logs beside its own.
  logDir = dirname(kafka.logFile);
  trainer = await trainerPython();
  llm = await startFakeLlm();
  cleanups.push(() => llm.close());
  otlp = await startOtlpReceiver();
  cleanups.push(() => otlp.close());
  tap = await EventTap.start(kafka.endpoint, tenantId);
  cleanups.push(() => tap.stop());

  const tenantKeysFile = join(logDir, 'tenant-keys.json');
  await writeTenantKeys(tenantKeysFile, { [tenantId]: apiKey });
  const registryAccess = await writeRegistryAccess(logDir, tenantId, { operator: operatorToken });
  // Routes carry the serving endpoint from registration on, so its port is chosen up front.
  servingPort = await freePort();
  platform = await startPlatform({
    kafka: kafka.endpoint,
    s3: testbed.s3,
    bucket,
    postgres: await createDatabase(testbed.postgres, uniqueName('e2e')),
    tenantKeysFile,
    registryAccess,
    llmBaseUrl: llm.baseUrl,
    servingEndpoint: `http://127.0.0.1:${String(servingPort)}/v1`,
    trainer,
    scale,
    logFile: join(logDir, 'platform.log'),
    otlpEndpoint: otlp.url,
  });
  cleanups.push(() => platform.stop());
  registry = createClient(ModelRegistryService, platform.grpc.registry, {
    metadata: { authorization: `Bearer ${operatorToken}` },
  });
  clusterer = createClient(ClustererService, platform.grpc.clusterer);
  orchestrator = createClient(TrainerOrchestratorService, platform.grpc.trainerOrchestrator);
  cleanups.push(() => {
    for (const client of [registry, clusterer, orchestrator]) client.close();
  });
}, 300_000);

afterAll(async () => {
  // Everything gets its stop even when one fails; the failures are reported together.
  const failures: unknown[] = [];
  for (const cleanup of cleanups.reverse()) {
    await Promise.resolve()
      .then(cleanup)
      .catch((error: unknown) => failures.push(error));
  }
  if (failures.length > 0) throw new AggregateError(failures, 'cleanup failed');
}, 120_000);

// What each step found, for the steps after it.
let calls: SimulatedCall[] = [];
const callById = new Map<string, SimulatedCall>();
const task = {} as Record<TaskJob, Task>;
const dataset = {} as Record<TaskJob, Dataset>;
const runId = {} as Record<TaskJob, string>;
const version = {} as Record<TaskJob, ModelVersion>;
const callIdsOf = (job: Job) =>
  [...callById].filter(([, call]) => call.job === job).map(([id]) => id);

describe('the LLM → SLM loop', () => {
  it('captures every LLM call the agents export, with its content', async () => {
    calls = await runAgents(agentTraffic({ perTask: callsPerTask, oneOffs: oneOffCount }), {
      llmBaseUrl: llm.baseUrl,
      collectorUrl: platform.collectorUrl,
      // No service name: see AgentFleetOptions.serviceName.
      apiKey,
    });
    expect(calls.filter((c) => c.job === 'one-off')).toHaveLength(oneOffCount);
    // The agents talked to the LLM directly: it answered every call.
    expect(llm.requests).toHaveLength(calls.length);

    await expect.poll(() => tap.captured.length, { timeout: 30_000 }).toBe(calls.length);
    const bySpan = new Map(calls.map((call) => [call.spanId, call]));
    for (const { meta, call } of tap.captured) {
      const made = bySpan.get(call?.spanId ?? '');
      expect(made, `span ${String(call?.spanId)}`).toBeDefined();
      expect(meta?.producer).toBe('collector');
      expect(call).toMatchObject({
        tenantId,
        traceId: made?.traceId,
        provider: 'openai',
        requestModel: llmModel,
        contentCaptured: true,
        usage: {
          inputTokens: made?.completion.usage.prompt_tokens,
          outputTokens: made?.completion.usage.completion_tokens,
        },
      });
      if (call !== undefined && made !== undefined) callById.set(call.callId, made);
    }
    expect(callById.size).toBe(calls.length);
  });

  it('derives one signature per task, another for each one-off, and an embedding for all', async () => {
    await expect.poll(() => tap.embedded.length, { timeout: 30_000 }).toBe(calls.length);
    const digestsOf = (job: Job) =>
      new Set(
        tap.embedded
          .filter((e) => callById.get(e.call?.callId ?? '')?.job === job)
          .map((e) => e.signature?.digest),
      );
    for (const job of tasks) expect(digestsOf(job).size, job).toBe(1);
    const oneOffDigests = digestsOf('one-off');
    expect(oneOffDigests.size).toBe(oneOffCount);
    const taskDigests = tasks.flatMap((job) => [...digestsOf(job)]);
    expect(taskDigests.filter((d) => oneOffDigests.has(d))).toEqual([]);
    expect(new Set(taskDigests).size).toBe(tasks.length);
    for (const { embedding } of tap.embedded) {
      expect(embedding?.values.length).toBe(embedding?.dimension);
      expect(embedding?.dimension).toBeGreaterThan(0);
    }
  });

  it('clusters the calls into the two tasks and leaves the one-off calls out', async () => {
    const discovered = () => taskEvents('discovered');
    await expect.poll(() => discovered().length, { timeout: 60_000 }).toBe(tasks.length);
    for (const found of discovered()) {
      const jobs = new Set(found.representativeCallIds.map((id) => callById.get(id)?.job));
      expect(jobs.size, `jobs of task ${found.taskId}`).toBe(1);
      const [job] = jobs;
      expect(tasks).toContain(job);
      task[job as TaskJob] = found;
    }

    for (const job of tasks) {
      const { taskId } = task[job];
      await expect
        .poll(async () => (await memberIds(taskId)).sort(), { timeout: 30_000 })
        .toEqual(callIdsOf(job).sort());
      const { report } = await clusterer.getTaskReport({ tenantId, taskId });
      const inputTokens = calls
        .filter((c) => c.job === job)
        .reduce((sum, c) => sum + c.completion.usage.prompt_tokens, 0);
      expect(report).toMatchObject({
        callCount: BigInt(callsPerTask),
        contentCapturedCount: BigInt(callsPerTask),
        errorCount: 0n,
        models: [
          {
            provider: 'openai',
            requestModel: llmModel,
            callCount: BigInt(callsPerTask),
            inputTokens: BigInt(inputTokens),
          },
        ],
      });
    }
    expect(task.invoice.taskId).not.toBe(task['order-lookup'].taskId);

    // The registry holds them labelled, scored and priced, and ranks them in the savings report.
    for (const job of tasks) {
      const { taskId, label } = task[job];
      expect(label).not.toBe('');
      await expect
        .poll(async () => (await registry.getTask({ tenantId, taskId })).task, { timeout: 30_000 })
        .toMatchObject({ taskId, label });
      const { task: held } = await registry.getTask({ tenantId, taskId });
      expect(held?.keywords.length).toBeGreaterThan(0);
      // Scored: six calls are too few examples to fine-tune on, and the score says so.
      expect(held?.suitability).toMatchObject({ overall: 0, volume: 0 });
      expect(held?.suitability?.homogeneity).toBeGreaterThan(0);
      expect(held?.suitability?.reasons.length).toBeGreaterThan(0);
      expect(held?.savings?.currency).toBe('USD');
      expect(held?.profile?.windowCalls).toBeGreaterThan(0n);
    }
    const { report } = await registry.getSavingsReport({ tenantId });
    expect(report?.tasks.map((t) => t.taskId).sort()).toEqual(
      tasks.map((job) => task[job].taskId).sort(),
    );
    // Two tasks of six calls each, beside three one-offs.
    expect(report?.shareOfCalls).toBeCloseTo((2 * callsPerTask) / (2 * callsPerTask + oneOffCount));
  });

  it('builds a dataset per task: chat rows with the teacher’s answers, split and hashed', async () => {
    await expect.poll(() => datasetsReady().length, { timeout: 60_000 }).toBe(tasks.length);
    for (const job of tasks) {
      const built = must(
        datasetsReady().find((d) => d.taskId === task[job].taskId),
        `the dataset of the ${job} task`,
      );
      dataset[job] = built;
      // The builder reads the task's members from the clusterer when the task's event arrives:
      // at least those of the announced revision, and only calls of this task.
      const announced = must(
        taskEvents('discovered', 'updated').find(
          (t) => t.taskId === built.taskId && t.revision === built.taskRevision,
        ),
        `revision ${String(built.taskRevision)} of the ${job} task`,
      ).representativeCallIds;
      const members = await memberIds(built.taskId);

      const manifest = JSON.parse(await read(must(built.manifest, 'a manifest').key)) as Manifest;
      const { train, eval: held } = manifest.source_calls;
      const sources = [...train, ...held];
      expect(manifest).toMatchObject({
        format: 'openai-chat-jsonl',
        dataset_id: built.datasetId,
        task_id: built.taskId,
        tenant_id: tenantId,
        source_call_count: sources.length,
      });
      expect(sources.length).toBeGreaterThanOrEqual(scale.minDatasetCalls);
      expect(sources).toEqual(expect.arrayContaining(announced));
      expect(members).toEqual(expect.arrayContaining(sources));
      // Every call the agents made was usable: none excluded for errors or missing content.
      expect(Object.entries(manifest.excluded).filter(([, count]) => count > 0)).toEqual([]);
      expect(train.filter((id) => held.includes(id))).toEqual([]);
      expect(held).toHaveLength(Math.round(sources.length * scale.evalFraction));
      expect(built).toMatchObject({
        tenantId,
        format: DatasetFormat.CHAT_JSONL,
        trainExampleCount: BigInt(train.length),
        evalExampleCount: BigInt(held.length),
      });

      for (const side of ['train', 'eval'] as const) {
        const ref = must(built[side], `the ${side} split`);
        const body = await read(ref.key);
        const sha256 = createHash('sha256').update(body).digest('hex');
        expect(manifest.splits[side]).toEqual({
          uri: `s3://${ref.bucket}/${ref.key}`,
          rows: manifest.source_calls[side].length,
          sha256,
        });
        expect(ref.sha256).toBe(sha256);
        const rows = body
          .trimEnd()
          .split('\n')
          .map((line) => JSON.parse(line) as unknown);
        expect(rows).toEqual(manifest.source_calls[side].map((id) => expectedRow(id)));
      }

      // The registry holds the record the trainer will look up.
      const { dataset: registered } = await registry.getDataset({
        tenantId,
        datasetId: built.datasetId,
      });
      expect(registered).toMatchObject({
        taskId: built.taskId,
        manifest: { key: built.manifest?.key },
        trainExampleCount: built.trainExampleCount,
      });
    }
  });

  it('trains a LoRA adapter on each dataset, for real, reporting every step', async () => {
    const runEvents = (job: TaskJob): TrainingRunEvent[] => {
      const requested = tap.trainingRuns.find(
        (e) =>
          e.kind.case === 'requested' && e.kind.value.run?.datasetId === dataset[job].datasetId,
      );
      return tap.trainingRuns.filter((e) => e.runId === requested?.runId);
    };
    const finished = (job: TaskJob) =>
      ['succeeded', 'failed', 'cancelled'].includes(runEvents(job).at(-1)?.kind.case ?? '');
    await expect
      .poll(() => tasks.every(finished), { timeout: 240_000, interval: 1_000 })
      .toBe(true);

    for (const job of tasks) {
      const events = runEvents(job);
      const kinds = events.map((e) => e.kind.case);
      expect(kinds[0]).toBe('requested');
      expect(kinds[1]).toBe('started');
      // The last event, told in JSON (its int64 fields as strings) should it not be a success.
      const last = JSON.stringify(events.at(-1)?.kind.value, (_, value: unknown) =>
        typeof value === 'bigint' ? String(value) : value,
      );
      expect(kinds.at(-1), last).toBe('succeeded');
      runId[job] = events[0]?.runId ?? '';

      const requested = must(events[0], 'the requested event').kind;
      expect(requested.case === 'requested' ? requested.value.run : undefined).toMatchObject({
        tenantId,
        taskId: task[job].taskId,
        baseModel: scale.baseModel,
        config: { epochs: scale.trainingConfig.epochs, loraRank: scale.trainingConfig.lora_r },
      });
      const steps = events.flatMap((e) => (e.kind.case === 'progress' ? [e.kind.value] : []));
      const totalSteps = steps[0]?.progress?.totalSteps ?? 0;
      expect(totalSteps).toBeGreaterThan(0);
      expect(steps.map((s) => s.progress?.step)).toEqual(
        Array.from({ length: totalSteps }, (_, i) => i + 1),
      );

      const run = must(
        (await orchestrator.getTrainingRun({ tenantId, runId: runId[job] })).run,
        'the run',
      );
      expect(run).toMatchObject({
        state: TrainingRunState.SUCCEEDED,
        datasetId: dataset[job].datasetId,
        progress: { step: totalSteps, totalSteps },
        adapter: { bucket },
        metrics: { steps: totalSteps, epochs: scale.trainingConfig.epochs },
      });
      for (const metric of ['train_loss', 'eval_loss'] as const) {
        expect(Number.isFinite(run.metrics[metric]), metric).toBe(true);
      }
      const folder = must(run.adapter, 'an adapter').prefix.replace(/\/?$/, '/');
      const files = [];
      for await (const entry of store.list(folder, { recursive: true })) {
        if (entry.type === 'object') files.push(entry.key.slice(folder.length));
      }
      expect(files).toEqual(
        expect.arrayContaining(['adapter_config.json', 'adapter_model.safetensors']),
      );
    }
  });

  it('registers each adapter as a model version with its lineage', async () => {
    const registered = () =>
      tap.modelVersions.flatMap((e) =>
        e.kind.case === 'registered' && e.kind.value.modelVersion
          ? [e.kind.value.modelVersion]
          : [],
      );
    await expect.poll(() => registered().length, { timeout: 30_000 }).toBe(tasks.length);
    for (const job of tasks) {
      const registeredVersion = must(
        registered().find((v) => v.runId === runId[job]),
        `the ${job} model version`,
      );
      expect(registeredVersion).toMatchObject({
        tenantId,
        taskId: task[job].taskId,
        datasetId: dataset[job].datasetId,
        baseModel: scale.baseModel,
        stage: ModelStage.REGISTERED,
        version: 1,
        trafficPercent: 0,
      });
      version[job] = registeredVersion;
      expect(registeredVersion.servingName).toBe(`understudy-${registeredVersion.modelVersionId}`);

      // Lineage joins the registry's own records with its views of tasks and runs (from Kafka).
      await expect
        .poll(
          async () =>
            (
              await registry.getModelVersionLineage({
                tenantId,
                modelVersionId: registeredVersion.modelVersionId,
              })
            ).trainingRun?.state,
          { timeout: 30_000 },
        )
        .toBe(TrainingRunState.SUCCEEDED);
      // The orchestrator records the trainer's held-out evaluation right after registering.
      await expect
        .poll(
          async () =>
            (
              await registry.getModelVersionLineage({
                tenantId,
                modelVersionId: registeredVersion.modelVersionId,
              })
            ).evaluations.length,
          { timeout: 30_000 },
        )
        .toBe(1);
      const lineage = await registry.getModelVersionLineage({
        tenantId,
        modelVersionId: registeredVersion.modelVersionId,
      });
      const runFolder = `training-runs/${tenantId}/${runId[job]}/`;
      expect(lineage).toMatchObject({
        modelVersion: { modelVersionId: registeredVersion.modelVersionId },
        trainingRun: {
          runId: runId[job],
          datasetId: dataset[job].datasetId,
          // Started by the dataset builder's event, by the local executor, logging to the store.
          requestedBy: 'dataset-builder',
          jobName: `trainer-${runId[job]}`,
          logs: { bucket, key: `${runFolder}train.log` },
        },
        dataset: { datasetId: dataset[job].datasetId, taskId: task[job].taskId },
        task: { taskId: task[job].taskId },
        evaluations: [
          {
            modelVersionId: registeredVersion.modelVersionId,
            kind: EvaluationKind.OFFLINE,
            datasetId: dataset[job].datasetId,
            split: DatasetSplit.EVAL,
            evaluatorVersion: 'greedy-teacher-match@1',
            exampleCount: dataset[job].evalExampleCount,
            createdBy: 'trainer-orchestrator',
          },
        ],
      });
      const [evaluation] = lineage.evaluations;
      // Compared with the LLM that answered the task's calls, as the dataset records it.
      const answeredBy = new Set(calls.filter((c) => c.job === job).map((c) => c.completion.model));
      expect(answeredBy.size).toBe(1);
      expect(evaluation?.teacherModel).not.toBe('');
      expect(evaluation?.teacherModel).toBe([...answeredBy][0]);
      for (const metric of ['exact_match', 'token_f1'] as const) {
        expect(evaluation?.metrics[metric], metric).toBeGreaterThanOrEqual(0);
        expect(evaluation?.metrics[metric], metric).toBeLessThanOrEqual(1);
      }
      expect((await read(`${runFolder}train.log`)).length).toBeGreaterThan(0);

      // The adapter as registered: PEFT files with the sizes and hashes of the stored objects.
      const adapter = must(registeredVersion.adapter, 'an adapter');
      expect(adapter).toMatchObject({ bucket, format: AdapterFormat.PEFT_LORA_SAFETENSORS });
      expect(adapter.sizeBytes).toBeGreaterThan(0n);
      expect(adapter.sizeBytes).toBe(adapter.files.reduce((sum, f) => sum + f.sizeBytes, 0n));
      expect(adapter.files.map((f) => f.key.slice(`${runFolder}adapter/`.length))).toEqual(
        expect.arrayContaining(['adapter_config.json', 'adapter_model.safetensors']),
      );
      for (const file of adapter.files) {
        const body = await buffer(await store.get(file.key));
        expect(BigInt(body.length), file.key).toBe(file.sizeBytes);
        expect(createHash('sha256').update(body).digest('hex'), file.key).toBe(file.sha256);
      }
      expect(registeredVersion.footprint).toMatchObject({ dtype: 'float32' });
      const footprint = must(registeredVersion.footprint, 'a footprint');
      expect(footprint.adapterParameterCount).toBeGreaterThan(0n);
      expect(footprint.baseParameterCount).toBeGreaterThan(footprint.adapterParameterCount);
      expect(footprint.servingMemoryBytes).toBe(
        4n * (footprint.baseParameterCount + footprint.adapterParameterCount),
      );
      // Tiny random bases have no model card, hence no licence.
      expect(registeredVersion.license).toBe('');
      expect(registeredVersion.registeredBy).toBe('trainer-orchestrator');
    }
  });

  it('promotes the invoice model to production, guarded by stage and etag', async () => {
    const registered = version.invoice;
    const adapter = must(registered.adapter, 'an adapter');
    // The serving side of the operator's job: the adapter, from the registry's record of it.
    const adapterServer = await serveAdapter({
      trainer,
      baseModel: registered.baseModel,
      adapterUri: `s3://${adapter.bucket}/${adapter.prefix}`,
      modelName: registered.servingName,
      port: servingPort,
      s3: testbed.s3,
      logFile: join(logDir, 'adapter-server.log'),
    });
    cleanups.push(() => adapterServer.stop());

    const promote = (targetStage: ModelStage, etag: string, trafficPercent = 0) =>
      registry.promoteModelVersion({
        requestId: randomUUID(),
        tenantId,
        modelVersionId: registered.modelVersionId,
        targetStage,
        trafficPercent,
        etag,
        reason: 'e2e: the operator trusts the adapter',
      });
    const promotion = await promote(ModelStage.PRODUCTION, registered.etag);
    expect(promotion.modelVersion).toMatchObject({
      stage: ModelStage.PRODUCTION,
      trafficPercent: 100,
    });
    expect(promotion.routes).toEqual([
      expect.objectContaining({
        tenantId,
        taskId: task.invoice.taskId,
        modelVersionId: registered.modelVersionId,
        servingName: registered.servingName,
        endpoint: adapterServer.baseUrl,
        stage: ModelStage.PRODUCTION,
        trafficPercent: 100,
      }),
    ]);
    // The etag read before the promotion is stale now; and stages only move forward.
    await expect(promote(ModelStage.PRODUCTION, registered.etag)).rejects.toMatchObject({
      code: ErrorCode.Aborted,
    });
    const promoted = must(promotion.modelVersion, 'the promoted version');
    await expect(promote(ModelStage.SHADOW, promoted.etag, 10)).rejects.toMatchObject({
      code: ErrorCode.FailedPrecondition,
    });

    await expect
      .poll(() => tap.routes.at(-1)?.revision, { timeout: 15_000 })
      .toBe(promotion.revision);
    expect(tap.routes.at(-1)?.routes.map((r) => r.modelVersionId)).toEqual([
      registered.modelVersionId,
    ]);
    await expect
      .poll(() => tap.modelVersions.map((e) => e.kind.case), { timeout: 15_000 })
      .toContain('promoted');
    const other = await registry.getModelVersion({
      tenantId,
      modelVersionId: version['order-lookup'].modelVersionId,
    });
    expect(other.modelVersion?.stage).toBe(ModelStage.REGISTERED);
  });

  it('routes the trained task to the small model and everything else to the LLM', async () => {
    otlp.forwardTo(platform.collectorUrl, apiKey);
    // The gateway follows the routing table as a stream: until the change arrives, invoices
    // still go to the LLM. Each attempt is a new invoice, as a live agent would send.
    let attempt = 0;
    await expect
      .poll(async () => (await ask(invoiceRequest(100 + attempt++))).route, { timeout: 30_000 })
      .toBe('slm');

    const invoice = invoiceRequest(200);
    const slm = await ask(invoice);
    expect(slm).toMatchObject({ status: 200, route: 'slm', task: task.invoice.taskId });
    expect(slm.body.model).toBe(version.invoice.servingName);
    expect(slm.body.choices[0]?.message.role).toBe('assistant');
    expect(llm.requests.some((r) => userText(r) === userText(invoice))).toBe(false);

    const order = orderLookupRequest(200);
    const llmAnswer = await ask(order);
    expect(llmAnswer).toMatchObject({
      status: 200,
      route: 'llm',
      task: task['order-lookup'].taskId,
    });
    expect(llmAnswer.body.choices[0]?.message).toEqual(teacher(order));
    expect(llm.requests.at(-1)).toMatchObject({ messages: order.messages, tools: order.tools });

    // A one-off the agents never sent before.
    const oneOff = must(oneOffRequests[oneOffCount], 'an unsent one-off request');
    const unknown = await ask(oneOff);
    expect(unknown).toMatchObject({ status: 200, route: 'llm', task: null });
    expect(llm.requests.at(-1)).toMatchObject({ messages: oneOff.messages });

    // The gateway's own GenAI spans say who answered.
    const spanOf = (request: ChatRequest) =>
      otlp
        .spans()
        .find(
          (s) =>
            s.name.startsWith('chat ') &&
            String(s.attributes['gen_ai.input.messages']).includes(
              JSON.stringify(userText(request)),
            ),
        );
    await expect.poll(() => spanOf(order), { timeout: 15_000 }).toBeDefined();
    await expect.poll(() => spanOf(invoice), { timeout: 15_000 }).toBeDefined();
    expect(spanOf(invoice)?.attributes).toMatchObject({
      'understudy.route': 'slm',
      'gen_ai.provider.name': 'understudy',
      'gen_ai.response.model': version.invoice.servingName,
      'understudy.task.id': task.invoice.taskId,
      'understudy.model_version.id': version.invoice.modelVersionId,
    });
    expect(spanOf(order)?.attributes).toMatchObject({
      'understudy.route': 'llm',
      'gen_ai.provider.name': 'openai',
      'understudy.task.id': task['order-lookup'].taskId,
    });

    // The loop closes: the gateway's spans reach the collector, which keeps the LLM's answers
    // as new teacher examples and never a small model's.
    const captured = (request: ChatRequest) =>
      tap.captured.filter(
        ({ call }) =>
          call?.content.case === 'plainContent' &&
          call.content.value.inputMessages.some((message) =>
            message.parts.some(
              ({ kind }) => kind.case === 'text' && kind.value.text === userText(request),
            ),
          ),
      );
    await expect.poll(() => captured(order).length, { timeout: 15_000 }).toBe(1);
    expect(captured(order)[0]?.call).toMatchObject({ tenantId, provider: 'openai' });
    expect(captured(invoice)).toHaveLength(0);

    // The one-off calls never made a task of their own.
    expect(taskEvents('discovered')).toHaveLength(tasks.length);
  });
});

/** The value, or a failed test naming what was missing. */
function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`expected ${what}, found none`);
  return value;
}

interface Manifest {
  readonly splits: Record<'train' | 'eval', { uri: string; rows: number; sha256: string }>;
  readonly source_calls: Record<'train' | 'eval', string[]>;
  readonly excluded: Record<string, number>;
}

function taskEvents(...kinds: ('discovered' | 'updated')[]): Task[] {
  return tap.tasks.flatMap(({ kind }) =>
    (kind.case === 'discovered' || kind.case === 'updated') &&
    kinds.includes(kind.case) &&
    kind.value.task !== undefined
      ? [kind.value.task]
      : [],
  );
}

function datasetsReady(): Dataset[] {
  return tap.datasets.flatMap(({ kind }) =>
    kind.case === 'ready' && kind.value.dataset ? [kind.value.dataset] : [],
  );
}

/** Every call the clusterer assigned to a task, page by page. */
async function memberIds(taskId: string): Promise<string[]> {
  const ids: string[] = [];
  let pageToken = '';
  do {
    const page = await clusterer.listTaskCalls({ tenantId, taskId, pageSize: 100, pageToken });
    ids.push(...page.members.map((m) => m.call?.callId ?? ''));
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  return ids;
}

async function read(key: string): Promise<string> {
  return streamText(await store.get(key));
}

/** The dataset row of a call: its prompt, then the teacher's answer, in OpenAI's chat shape. */
function expectedRow(callId: string): unknown {
  const call = callById.get(callId);
  if (call === undefined) throw new Error(`no simulated call ${callId}`);
  const answer = call.completion.choices[0]?.message;
  return {
    messages: [
      ...call.request.messages.map(({ role, content }) => ({ role, content })),
      answer?.tool_calls === undefined
        ? { role: 'assistant', content: answer?.content }
        : { role: 'assistant', tool_calls: answer.tool_calls },
    ],
    ...(call.request.tools !== undefined && { tools: call.request.tools }),
  };
}

const userText = (request: ChatRequest) =>
  request.messages.findLast((m) => m.role === 'user')?.content ?? '';

interface GatewayReply {
  readonly status: number;
  readonly route: string | null;
  readonly task: string | null;
  readonly body: ChatCompletion;
}

/** A chat completion through the gateway, as the tenant's agents would ask for it. */
async function ask(request: ChatRequest): Promise<GatewayReply> {
  const response = await fetch(`${platform.gatewayUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    // Short answers: the small model generates on one CPU thread.
    body: JSON.stringify({ ...request, max_tokens: 16 }),
  });
  return {
    status: response.status,
    route: response.headers.get('x-understudy-route'),
    task: response.headers.get('x-understudy-task'),
    body: (await response.json()) as ChatCompletion,
  };
}
