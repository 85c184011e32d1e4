import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '@understudy/config';
import { ModelRegistryService, ModelStage } from '@understudy/contracts';
import { createClient } from '@understudy/grpc';
import { embeddedConfig } from '../config.js';
import { agentTraffic, otlpExport, type RecordedCall } from './traffic.js';
import { startReplayTeacher } from './teacher.js';
import { startPlatform, type Platform } from '../platform.js';
import { freePort } from '../ports.js';

/** Polls `probe` until it returns a value, printing a dot every few seconds. */
async function waitFor<T>(
  say: (line?: string) => void,
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;
  for (let tick = 1; Date.now() - started < timeoutMs; tick++) {
    const value = await probe();
    if (value !== undefined) {
      say(`   (${what}: ${elapsed()})`);
      return value;
    }
    if (tick % 15 === 0) say(`   … ${what} (${elapsed()})`);
    await sleep(1_000);
  }
  throw new Error(`gave up after ${elapsed()}: ${what}`);
}

async function replay(platform: Platform, calls: readonly RecordedCall[]): Promise<void> {
  // As an SDK's batch span processor would: a few spans per export.
  for (let start = 0; start < calls.length; start += 10) {
    const response = await fetch(`${platform.otlpUrl}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${platform.apiKey}` },
      body: JSON.stringify(otlpExport(calls.slice(start, start + 10))),
    });
    if (!response.ok) throw new Error(`collector answered ${String(response.status)}`);
  }
}

async function ask(platform: Platform, call: RecordedCall) {
  const response = await fetch(`${platform.gatewayUrl}/chat/completions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${platform.apiKey}`,
      'x-understudy-agent': call.agent,
    },
    body: JSON.stringify({
      model: call.model,
      messages: [
        { role: 'system', content: call.system },
        { role: 'user', content: call.user },
      ],
      max_tokens: 48,
    }),
  });
  const body = (await response.json()) as { choices?: { message?: { content?: string } }[] };
  return {
    status: response.status,
    route: response.headers.get('x-understudy-route') ?? '?',
    task: response.headers.get('x-understudy-task') ?? '-',
    answer: body.choices?.[0]?.message?.content ?? JSON.stringify(body),
  };
}

export interface DemoSummary {
  readonly datasets: number;
  readonly modelVersions: number;
  /** Per probe request: the agent it imitates and who answered (`x-understudy-route`). */
  readonly routed: readonly { readonly agent: string; readonly route: string }[];
}

/** Runs the demo on a fresh platform in a temporary data dir, printing each step with `say`. */
export async function runDemo(say: (line?: string) => void): Promise<DemoSummary> {
  const calls = await agentTraffic();
  const dataDir = await mkdtemp(join(tmpdir(), 'understudy-demo-'));
  // As root, PostgreSQL runs as its own user, which must be able to enter the data dir.
  await chmod(dataDir, 0o755);
  const teacher = await startReplayTeacher(calls);
  // Small enough for a laptop CPU; the services read these like any UNDERSTUDY_* variable.
  const serviceEnv = {
    ...process.env,
    UNDERSTUDY_CLUSTERER_MIN_TASK_SIZE: '8',
    UNDERSTUDY_DATASET_MIN_CALLS: '24',
    UNDERSTUDY_BASE_MODEL: 'tiny-random:qwen2',
    UNDERSTUDY_TRAINING_CONFIG: JSON.stringify({
      epochs: 2,
      max_seq_length: 512,
      eval_max_new_tokens: 24,
    }),
  };
  const host = '127.0.0.1';
  const port = async () => String(await freePort(host));
  const platform = await startPlatform(
    loadConfig(embeddedConfig, {
      ...process.env,
      UNDERSTUDY_DATA_DIR: dataDir,
      UNDERSTUDY_LOG_LEVEL: process.env['UNDERSTUDY_LOG_LEVEL'] ?? 'warn',
      UNDERSTUDY_OTLP_PORT: await port(),
      UNDERSTUDY_OTLP_GRPC_PORT: await port(),
      UNDERSTUDY_GATEWAY_PORT: await port(),
      UNDERSTUDY_REGISTRY_PORT: await port(),
      UNDERSTUDY_OPS_PORT: await port(),
      UNDERSTUDY_LLM_BASE_URL: teacher.url,
    }),
    serviceEnv,
  );
  const registry = createClient(ModelRegistryService, platform.registryAddress, {
    metadata: { authorization: `Bearer ${platform.registryToken}` },
  });
  const tenantId = platform.tenant;
  try {
    const agents = new Set(calls.map((call) => call.agent));
    say(
      `Understudy demo: ${String(calls.length)} recorded LLM calls from ${String(agents.size)} agents`,
    );
    say(
      `  platform: OTLP ${platform.otlpUrl}, gateway ${platform.gatewayUrl}, registry ${platform.registryAddress}`,
    );
    await replay(platform, calls);
    say(`1. captured: ${String(calls.length)} calls sent as OTLP GenAI spans to the collector`);

    // A task gets a dataset once it has UNDERSTUDY_DATASET_MIN_CALLS calls; one-offs never do.
    // The demo goes on once the invoice agent's task has one (the one it will promote).
    const built = await waitFor(
      say,
      'discovering tasks and building their datasets',
      async () => {
        const { datasets } = await registry.listDatasets({ tenantId });
        const withTasks = await Promise.all(
          datasets.map(async (dataset) => ({
            dataset,
            task: (await registry.getTask({ tenantId, taskId: dataset.taskId })).task,
          })),
        );
        return withTasks.some(({ task }) => task?.agentName === 'invoice-agent')
          ? withTasks
          : undefined;
      },
      300_000,
    );
    say('2. discovered recurring tasks, each with a dataset (OpenAI chat JSONL in the store):');
    for (const { dataset, task } of built) {
      say(
        `   task ${dataset.taskId}  ${task?.agentName ?? '?'} (${String(task?.callCount ?? 0)} calls, "${task?.label ?? ''}")`,
      );
      say(
        `     dataset ${dataset.datasetId}: ${String(dataset.trainExampleCount)} train / ${String(dataset.evalExampleCount)} eval examples  ${dataset.manifest?.key ?? ''}`,
      );
    }
    const invoiceTask = built.find(({ task }) => task?.agentName === 'invoice-agent')?.task;

    const versions = await waitFor(
      say,
      'training LoRA adapters (tiny random base model, CPU)',
      async () => {
        const { modelVersions } = await registry.listModelVersions({ tenantId });
        return modelVersions.some((version) => version.taskId === invoiceTask?.taskId)
          ? modelVersions
          : undefined;
      },
      900_000,
    );
    say('3. trained and registered model versions:');
    for (const version of versions) {
      const metrics = Object.entries(version.metrics)
        .filter(([name]) => ['train_loss', 'eval_loss', 'exact_match', 'token_f1'].includes(name))
        .map(([name, value]) => `${name} ${value.toFixed(3)}`)
        .join(', ');
      say(
        `   ${version.servingName}  task ${version.taskId}  base ${version.baseModel}  ${metrics}`,
      );
    }

    // The operator's decision: the demo promotes the invoice task's model straight to production.
    const invoiceCall = calls.find((call) => call.agent === 'invoice-agent');
    const promoted = versions.find((version) => version.taskId === invoiceTask?.taskId);
    if (invoiceCall === undefined || promoted === undefined) {
      throw new Error('no model was trained for the invoice task');
    }
    await registry.promoteModelVersion({
      requestId: randomUUID(),
      tenantId,
      modelVersionId: promoted.modelVersionId,
      targetStage: ModelStage.PRODUCTION,
    });
    say(`4. promoted ${promoted.servingName} to production for task ${promoted.taskId}`);

    const probes: RecordedCall[] = [
      { ...invoiceCall, user: invoiceCall.user.replace(/INV-\d+/, 'INV-55555') },
      ...calls.filter((call) => call.agent === 'support-agent').slice(0, 1),
      ...calls.filter((call) => call.agent === 'planner-agent').slice(0, 1),
    ];
    await waitFor(
      say,
      'waiting for the gateway to pick up the route',
      async () =>
        (await ask(platform, probes[0] ?? invoiceCall)).route === 'slm' ? true : undefined,
      60_000,
    );
    say('5. routed requests through the gateway:');
    const routed = [];
    for (const probe of probes) {
      const { status, route, task, answer } = await ask(platform, probe);
      routed.push({ agent: probe.agent, route });
      say(
        `   ${probe.agent.padEnd(14)} → ${route.padEnd(12)} task ${task}  HTTP ${String(status)}  ${JSON.stringify(answer.slice(0, 60))}`,
      );
    }
    say();
    say('The tiny random model answers nonsense: it shows the loop, not quality. Use a real base');
    say('model (UNDERSTUDY_BASE_MODEL, e.g. Qwen/Qwen2.5-0.5B-Instruct) with `npm start`.');
    return {
      datasets: built.length,
      modelVersions: versions.length,
      routed,
    };
  } finally {
    registry.close();
    await platform.stop();
    await teacher.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}
