import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duration, Timestamp } from '@bufbuild/protobuf/wkt';
import {
  CallStatusCode,
  FinishReason,
  Operation,
  ResponseFormatType,
  Role,
  SourceFormat,
  type CallCaptured,
  type LlmCall,
} from '@understudy/contracts';
import { KafkaDriver, Messaging, topics } from '@understudy/messaging';
import { startService, type RunningService } from '@understudy/service';
import { freePort, uniqueName } from '@understudy/testbed';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { settings } from './config.js';
import { definition } from './service.js';
import { answers, responseModel, startFakeOpenAi, type FakeOpenAi } from './testing/fake-openai.js';
import {
  programs,
  protocols,
  runClient,
  unavailable,
  type ClientProgram,
  type Protocol,
  type Scenario,
  type ScenarioTraces,
} from './testing/clients/programs.js';
import { clientsPython } from './testing/clients/python.int.js';

/**
 * The real instrumentation libraries, driving the official clients against a fake OpenAI,
 * export to the collector over each OTLP protocol; the LlmCalls it captures are checked field
 * by field against what the agent did. Each scenario is one trace, so a call is found by the
 * trace id its program reported. What a library does not send (no failed calls from Traceloop
 * and OpenInference, no tool call ids from Traceloop 0.22, …) is asserted as absent, so a
 * change in either the library or the collector shows up here.
 */

type ProgramKey = keyof typeof programs;

/** What the agent asked in each scenario (see testing/clients/openai-scenarios.mjs). */
const prompts = {
  system: 'You are a concise travel assistant.',
  chat: 'What is the capital of Norway?',
  tools: 'What is the weather in Oslo right now?',
  stream: 'Name the capital of Norway in one sentence.',
  json: 'Return the capital of Norway as JSON.',
  error: 'This call fails.',
} as const;
const embeddingModel = 'text-embedding-3-small';
const model = 'gpt-4o-mini';
const weatherReport = '{"temperature_c":12,"conditions":"cloudy"}';
const capitalSchema = {
  type: 'object',
  properties: { city: { type: 'string' }, country: { type: 'string' } },
  required: ['city', 'country'],
  additionalProperties: false,
};
const { toolCall } = answers.toolCall;
const weatherTool = {
  type: 'function',
  name: 'get_weather',
  description: 'Current weather for a city.',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string', description: 'City name' } },
    required: ['city'],
  },
};

/** What one library's telemetry carries, hence what the collector can capture from it. */
interface Expectation {
  readonly format: SourceFormat;
  readonly scopeName: string;
  readonly scopeVersion: string;
  /**
   * The format's version: the semconv version of the scope's schema URL where it has one (as
   * the contract says), otherwise the scope's version.
   */
  readonly formatVersion?: string;
  /** Calls that fail with an HTTP error are exported at all. */
  readonly failedCalls: boolean;
  /** The chat scenario's parameters, as far as the format records them. */
  readonly chatParameters: Record<string, unknown>;
  /** `tool_choice: auto` of the tool-calling request is recorded. */
  readonly toolChoice: boolean;
  /**
   * The response format: the JSON schema asked for is recorded with its name, or without it
   * (Python Traceloop's `gen_ai.request.structured_output_schema`), nothing is, or something
   * is that the contract leaves open (Python openai-v2's `gen_ai.output.type: json`).
   */
  readonly responseFormat: 'schema' | 'unnamed-schema' | 'none' | 'unchecked';
  /** The provider's response id is recorded. */
  readonly responseId: boolean;
  /** Tool call ids are recorded, and tool results as results rather than text. */
  readonly toolCallIds: boolean;
  /** Tool results say which call they answer (OpenLLMetry's Python events do not). */
  readonly toolResultIds?: boolean;
  /** Tool definitions are recorded. */
  readonly toolDefinitions: boolean;
  /** Cached prompt tokens are recorded. */
  readonly cachedTokens: boolean;
  /** The system prompt arrives apart from the messages (`gen_ai.system_instructions`). */
  readonly systemApart: boolean;
  /** Streaming: whether the call says it streamed, and when its first token came. */
  readonly streaming: 'no' | 'flag' | 'first-token';
  /** Token usage and the finish reason of a streamed call are recorded on the span. */
  readonly streamUsage: boolean;
  readonly streamFinish: boolean;
  /**
   * The streamed answer reaches the call (OpenLLMetry's Python events put it on the span
   * around the call instead, where no call can find it).
   */
  readonly streamOutput?: boolean;
  /** `error.type` of the failed call, where the format records one the contract pins. */
  readonly errorType?: string;
  /** Finish reasons are recorded without content. */
  readonly finishWithoutContent: boolean;
  /** What the Responses API tool round trip records, if the library instruments that API. */
  readonly responses?: ResponsesExpectation;
  /**
   * The context of the calls of the `embed` scenario (the AI SDK's embed and embedMany), for the
   * programs that run it: no agent runs them.
   */
  readonly embedContext?: Record<string, unknown>;
  /** The call's context, from the spans around it. */
  context(scenario: Scenario): Record<string, unknown>;
}

/** How a library records the `responses` scenario (see testing/clients/openai-scenarios.mjs). */
interface ResponsesExpectation {
  /** Its spans' format, where it is not the library's usual one. */
  readonly format?: SourceFormat;
  /** The `instructions`: a system message first, apart, or not recorded at all. */
  readonly instructions: 'message' | 'apart' | 'none';
  /**
   * The first response's output: its reasoning and function call items, or only its (empty)
   * output text (Traceloop JS).
   */
  readonly output: 'items' | 'text';
  /**
   * How the output items come back in the next request: as one assistant message, as a message
   * per item, or the function call alone (Python Traceloop drops the reasoning item).
   */
  readonly history: 'message' | 'items' | 'call';
  /** The id a function call is recorded with: its `call_id`, or its item id (Python Traceloop). */
  readonly callId: 'call' | 'item';
}

const allChatParameters = {
  temperature: 0.2,
  topP: 0.9,
  maxTokens: 64,
  stopSequences: ['END'],
  presencePenalty: 0.1,
  frequencyPenalty: 0.2,
};
const chatParametersWithoutStop = {
  temperature: 0.2,
  topP: 0.9,
  maxTokens: 64,
  presencePenalty: 0.1,
  frequencyPenalty: 0.2,
};
const conversation = (scenario: Scenario) => `conversation-${scenario}`;

const traceloop = {
  failedCalls: false,
  chatParameters: chatParametersWithoutStop,
  toolChoice: false,
  responseFormat: 'none',
  toolDefinitions: true,
  cachedTokens: false,
  systemApart: false,
  streaming: 'no',
  streamUsage: false,
  streamFinish: true,
  scopeName: '@traceloop/instrumentation-openai',
  context: (scenario: Scenario) => ({
    workflowName: 'trip-planner',
    stepName: scenario,
    conversationId: conversation(scenario),
    attributes: { user_id: 'user-7' },
  }),
} as const;

const pyTraceloop: Expectation = {
  ...traceloop,
  format: SourceFormat.OPENLLMETRY_JSON,
  scopeName: 'opentelemetry.instrumentation.openai.v1',
  scopeVersion: '0.62.4',
  failedCalls: true,
  responseId: true,
  toolCallIds: true,
  cachedTokens: true,
  responseFormat: 'unnamed-schema',
  // A `gen_ai.content.completion.chunk` span event per chunk, the first one the first token.
  streaming: 'first-token',
  streamUsage: true,
  errorType: 'InternalServerError',
  finishWithoutContent: true,
  responses: { instructions: 'message', output: 'items', history: 'call', callId: 'item' },
};

const expectations: Record<ProgramKey, Expectation> = {
  otelGenAi: {
    format: SourceFormat.OTEL_GENAI_EVENTS,
    scopeName: '@opentelemetry/instrumentation-openai',
    scopeVersion: '0.22.0',
    failedCalls: true,
    chatParameters: allChatParameters,
    toolChoice: false,
    responseFormat: 'none',
    responseId: true,
    toolCallIds: true,
    toolDefinitions: false,
    cachedTokens: false,
    systemApart: false,
    streaming: 'no',
    streamUsage: true,
    streamFinish: true,
    errorType: 'InternalServerError',
    finishWithoutContent: true,
    // Semconv ≥ 1.37 spans, the content in operation-details log events.
    responses: {
      format: SourceFormat.OTEL_GENAI_ATTRIBUTES,
      instructions: 'message',
      output: 'items',
      history: 'items',
      callId: 'call',
    },
    context: (scenario) => ({
      agentName: 'travel-agent',
      agentId: 'agent-travel-1',
      conversationId: conversation(scenario),
    }),
  },
  traceloop: {
    ...traceloop,
    format: SourceFormat.OPENLLMETRY_JSON,
    scopeVersion: '0.27.0',
    responseId: true,
    toolCallIds: true,
    finishWithoutContent: true,
    responses: { instructions: 'none', output: 'text', history: 'items', callId: 'call' },
  },
  traceloopLegacy: {
    ...traceloop,
    format: SourceFormat.OPENLLMETRY_FLATTENED,
    scopeVersion: '0.22.5',
    responseId: false,
    toolCallIds: false,
    finishWithoutContent: false,
  },
  openInference: {
    format: SourceFormat.OPENINFERENCE,
    scopeName: '@arizeai/openinference-instrumentation-openai',
    scopeVersion: '4.2.7',
    failedCalls: false,
    chatParameters: { ...allChatParameters, seed: 42n },
    toolChoice: true,
    responseFormat: 'schema',
    responseId: false,
    toolCallIds: true,
    toolDefinitions: true,
    cachedTokens: true,
    systemApart: false,
    streaming: 'flag',
    streamUsage: false,
    streamFinish: true,
    finishWithoutContent: true,
    responses: { instructions: 'message', output: 'items', history: 'items', callId: 'call' },
    context: (scenario) => ({
      agentName: 'travel-agent',
      stepName: scenario,
      conversationId: conversation(scenario),
      attributes: { user_tier: 'pro' },
    }),
  },
  aiSdkV6: {
    format: SourceFormat.VERCEL_AI_SDK,
    scopeName: 'ai',
    scopeVersion: '',
    failedCalls: true,
    chatParameters: { ...allChatParameters, seed: 42n },
    toolChoice: true,
    responseFormat: 'none',
    responseId: true,
    toolCallIds: true,
    toolDefinitions: true,
    cachedTokens: true,
    systemApart: false,
    streaming: 'first-token',
    streamUsage: true,
    streamFinish: true,
    // The exception the SDK records, as it sets no `error.type`.
    errorType: 'AI_APICallError',
    finishWithoutContent: true,
    responses: { instructions: 'message', output: 'items', history: 'message', callId: 'call' },
    embedContext: {
      agentName: '',
      stepName: 'travel-agent',
      conversationId: conversation('embed'),
      attributes: { conversationId: conversation('embed'), userTier: 'pro' },
    },
    context: (scenario) => ({
      agentName: 'travel-agent',
      conversationId: conversation(scenario),
      attributes: { conversationId: conversation(scenario), userTier: 'pro' },
    }),
  },
  aiSdkV7: {
    format: SourceFormat.OTEL_GENAI_ATTRIBUTES,
    scopeName: 'gen_ai',
    scopeVersion: '',
    failedCalls: true,
    chatParameters: allChatParameters,
    toolChoice: false,
    responseFormat: 'none',
    responseId: true,
    toolCallIds: true,
    toolDefinitions: true,
    cachedTokens: true,
    systemApart: true,
    streaming: 'first-token',
    streamUsage: true,
    streamFinish: true,
    errorType: 'AI_APICallError',
    finishWithoutContent: true,
    responses: { instructions: 'apart', output: 'items', history: 'message', callId: 'call' },
    embedContext: { agentName: '', stepName: '' },
    context: () => ({ agentName: 'travel-agent' }),
  },
  pyOpenAiV2: {
    format: SourceFormat.OTEL_GENAI_ATTRIBUTES,
    scopeName: 'opentelemetry.util.genai.handler',
    scopeVersion: '1.1b0',
    formatVersion: '1.37.0',
    failedCalls: true,
    chatParameters: { ...allChatParameters, seed: 42n },
    toolChoice: false,
    responseFormat: 'unchecked',
    responseId: true,
    toolCallIds: true,
    toolDefinitions: false,
    cachedTokens: false,
    systemApart: false,
    streaming: 'no',
    streamUsage: true,
    streamFinish: false,
    errorType: "<class 'openai.InternalServerError'>",
    finishWithoutContent: true,
    context: (scenario) => ({
      agentName: 'travel-agent',
      agentId: 'agent-travel-1',
      conversationId: conversation(scenario),
    }),
  },
  pyOpenInference: {
    format: SourceFormat.OPENINFERENCE,
    scopeName: 'openinference.instrumentation.openai',
    scopeVersion: '0.1.66',
    failedCalls: true,
    chatParameters: { ...allChatParameters, seed: 42n },
    toolChoice: true,
    responseFormat: 'schema',
    responseId: false,
    toolCallIds: true,
    toolDefinitions: true,
    cachedTokens: true,
    systemApart: false,
    // Its `First Token Stream Event` span event.
    streaming: 'first-token',
    streamUsage: true,
    streamFinish: true,
    errorType: 'openai.InternalServerError',
    finishWithoutContent: true,
    responses: { instructions: 'message', output: 'items', history: 'items', callId: 'call' },
    context: (scenario) => ({
      agentName: 'travel-agent',
      stepName: scenario,
      conversationId: conversation(scenario),
      attributes: { user_tier: 'pro' },
    }),
  },
  pyTraceloop,
  // The same instrumentation with `use_attributes=False`: chat content as semconv 1.36 events
  // (its Responses API spans keep their attributes), without tool definitions or result ids.
  pyTraceloopEvents: {
    ...pyTraceloop,
    toolDefinitions: false,
    toolResultIds: false,
    streamOutput: false,
  },
};

/** LLM calls each scenario makes, as seen by an instrumentation that exports failed calls. */
const callsPerScenario: Record<Scenario, number> = {
  chat: 1,
  tools: 2,
  stream: 1,
  json: 1,
  responses: 2,
  embed: 2,
  error: 1,
  'capture-off': 1,
};

interface Run {
  readonly key: ProgramKey;
  readonly client: ClientProgram;
  readonly protocol: Protocol;
  readonly captureContent: boolean;
  readonly traces: ScenarioTraces;
  /** Why the program failed, when it did (its telemetry may be partly exported). */
  readonly failure?: string;
}

const venv = await clientsPython();
const available = (Object.entries(programs) as [ProgramKey, ClientProgram][]).filter(
  ([, client]) => {
    const reason = unavailable(client, venv);
    if (reason !== undefined) console.warn(`skipping ${client.name}: ${reason}`);
    return reason === undefined;
  },
);

/** Runs `work` on every item, at most `limit` at a time: the clients share two CPU cores. */
async function pooled<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>) {
  const results: R[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return results;
}

/** A Duration, or a Timestamp since the epoch, in nanoseconds. */
const nanos = (value: Duration | Timestamp | undefined) =>
  (value?.seconds ?? 0n) * 1_000_000_000n + BigInt(value?.nanos ?? 0);
const textPart = (text: string) => ({ kind: { case: 'text', value: { text } } });
const toolCallPart = (ids: boolean) => ({
  kind: { case: 'toolCall', value: { ...toolCall, id: ids ? toolCall.id : '' } },
});
const toolResultPart = (id: string) => ({
  kind: { case: 'toolCallResponse', value: { id, response: weatherReport } },
});

describe('real instrumentation libraries through the collector', () => {
  const { kafka, s3 } = inject('testbed');
  const tenant = uniqueName('tenant');
  const apiKey = uniqueName('key');
  let dir: string;
  let fake: FakeOpenAi;
  let service: RunningService<typeof settings>;
  let reader: Messaging;
  let runs: Run[] = [];
  const captured: CallCaptured[] = [];

  /** The calls captured from one scenario of one run, in the order they started. */
  function callsOf(run: Run, scenario: Scenario): LlmCall[] {
    const traceId = run.traces[scenario];
    return captured
      .flatMap(({ call }) => (call && call.traceId === traceId ? [call] : []))
      .sort((a, b) => Number(nanos(a.timing?.startTime) - nanos(b.timing?.startTime)));
  }

  function expectedCalls(run: Run, scenario: Scenario): number {
    const expected = expectations[run.key];
    if (scenario === 'error' && !expected.failedCalls) return 0;
    if (scenario === 'responses' && expected.responses === undefined) return 0;
    return callsPerScenario[scenario];
  }

  /** What has not arrived yet, as `<library> <protocol> <scenario>: n of m`. */
  function missing(): string[] {
    return runs.flatMap((run) =>
      (Object.keys(run.traces) as Scenario[]).flatMap((scenario) => {
        const got = callsOf(run, scenario).length;
        const want = expectedCalls(run, scenario);
        return got < want
          ? [`${run.client.name} ${run.protocol} ${scenario}: ${got} of ${want}`]
          : [];
      }),
    );
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'collector-clients-'));
    const keysFile = join(dir, 'tenant-keys.json');
    const sha256 = createHash('sha256').update(apiKey).digest('hex');
    // Two dozen exporters at once are one agent fleet's burst, not abuse.
    const limits = { requestsPerSecond: 10_000, bytesPerSecond: 1_000_000_000 };
    await writeFile(keysFile, JSON.stringify([{ tenant, sha256, limits }]));
    fake = await startFakeOpenAi();
    const ports = { http: await freePort(), grpc: await freePort() };
    service = await startService(definition, {
      UNDERSTUDY_KAFKA_BROKERS: kafka.brokers.join(','),
      UNDERSTUDY_S3_ENDPOINT: `http://${s3.endPoint}:${String(s3.port)}`,
      UNDERSTUDY_S3_REGION: s3.region,
      UNDERSTUDY_S3_BUCKET: uniqueName('collector-clients'),
      UNDERSTUDY_S3_ACCESS_KEY: s3.accessKey,
      UNDERSTUDY_S3_SECRET_KEY: s3.secretKey,
      UNDERSTUDY_TENANT_KEYS_FILE: keysFile,
      UNDERSTUDY_COLLECTOR_REDACTION_SECRET: 'clients-int-test-redaction-secret-0123456789',
      // The error call has no answer event to wait for: do not make the test wait 30 s for it.
      UNDERSTUDY_COLLECTOR_JOIN_TIMEOUT_MS: '4000',
      UNDERSTUDY_HTTP_HOST: '127.0.0.1',
      UNDERSTUDY_HTTP_PORT: String(ports.http),
      UNDERSTUDY_GRPC_HOST: '127.0.0.1',
      UNDERSTUDY_GRPC_PORT: String(ports.grpc),
      UNDERSTUDY_OPS_HOST: '127.0.0.1',
      UNDERSTUDY_OPS_PORT: '0',
      UNDERSTUDY_LOG_LEVEL: 'silent',
    });
    reader = new Messaging({
      driver: new KafkaDriver({ brokers: kafka.brokers, clientId: uniqueName('clients-reader') }),
      producerName: 'collector-clients-test',
    });
    reader.on(topics.callsCaptured, { group: uniqueName('collector-clients') }, (event) => {
      if (event.meta?.tenantId === tenant) captured.push(event);
    });
    await reader.start();

    const endpoints: Record<Protocol, string> = {
      'http/protobuf': `http://127.0.0.1:${String(ports.http)}`,
      'http/json': `http://127.0.0.1:${String(ports.http)}`,
      grpc: `http://127.0.0.1:${String(ports.grpc)}`,
    };
    const jobs = available.flatMap(([key, client]) => [
      ...protocols.map((protocol) => ({ key, client, protocol, captureContent: true })),
      { key, client, protocol: 'http/protobuf' as const, captureContent: false },
    ]);
    runs = await pooled(jobs, 3, async (job): Promise<Run> => {
      const options = {
        endpoint: endpoints[job.protocol],
        protocol: job.protocol,
        apiKey,
        fakeOpenAiBaseUrl: fake.baseUrl,
        captureContent: job.captureContent,
        venv,
      };
      try {
        return { ...job, traces: await runClient(job.client, options) };
      } catch (error) {
        return { ...job, traces: {}, failure: String(error) };
      }
    });
    const deadline = Date.now() + 60_000;
    while (missing().length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }, 240_000);

  afterAll(async () => {
    await reader.stop();
    await service.stop();
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs every client program to its end, its telemetry accepted', () => {
    expect(runs.flatMap((run) => (run.failure === undefined ? [] : [run.failure]))).toEqual([]);
  });

  it('captures every call each library exported, over every protocol', () => {
    expect(missing()).toEqual([]);
  });

  describe.each(available.map(([key, client]) => ({ key, client, name: client.name })))(
    '$name',
    ({ key, client }) => {
      const expected = expectations[key];
      const runsOf = (captureContent = true) =>
        runs.filter((run) => run.key === key && run.captureContent === captureContent);

      /** The calls of a scenario in every run, each checked to be exactly as many as made. */
      function scenarioCalls(scenario: Scenario, captureContent = true) {
        const chosen = runsOf(captureContent);
        expect(chosen).toHaveLength(captureContent ? protocols.length : 1);
        return chosen.map((run) => {
          expect(run.traces[scenario], `${run.protocol} ran ${scenario}`).toMatch(/^[0-9a-f]{32}$/);
          const calls = callsOf(run, scenario);
          expect(calls, `${run.protocol} ${scenario}`).toHaveLength(expectedCalls(run, scenario));
          return { run, calls };
        });
      }

      /** What every call of the library has, whatever the scenario. */
      function expectCommon(run: Run, call: LlmCall, scenario: Scenario) {
        const label = `${client.name} ${run.protocol} ${scenario}`;
        const format =
          (scenario === 'responses' ? expected.responses?.format : undefined) ?? expected.format;
        const callId = createHash('sha256')
          .update(`${tenant}:${call.traceId}:${call.spanId}`)
          .digest('hex')
          .slice(0, 32);
        expect(call, label).toMatchObject({
          tenantId: tenant,
          traceId: run.traces[scenario],
          callId,
          operation: scenario === 'embed' ? Operation.EMBEDDINGS : Operation.CHAT,
          provider: 'openai',
          source: {
            format,
            scopeName: expected.scopeName,
            scopeVersion: expected.scopeVersion,
            version: expected.formatVersion ?? expected.scopeVersion,
          },
          context: {
            serviceName: 'travel-agent',
            ...(scenario === 'embed' ? expected.embedContext : expected.context(scenario)),
          },
        });
        expect(call.spanId, label).toMatch(/^[0-9a-f]{16}$/);
        const { parentSpanId, ancestorSpanIds } = call.context ?? {};
        expect(parentSpanId, label).toMatch(/^[0-9a-f]{16}$/);
        expect(ancestorSpanIds?.at(-1), label).toBe(parentSpanId);
        expect(nanos(call.timing?.latency), label).toBeGreaterThan(0n);
        expect(nanos(call.timing?.startTime), label).toBeGreaterThan(0n);
        // OpenAI's embeddings API gives its answers no id.
        const answered = call.status?.code === CallStatusCode.OK && scenario !== 'embed';
        if (expected.responseId && answered) {
          expect(fake.responseIds, label).toContain(call.responseId);
        }
      }

      it('chat: system and user message, every recorded parameter, the answer and its usage', () => {
        for (const { run, calls } of scenarioCalls('chat')) {
          const [call] = calls;
          if (!call) continue;
          expectCommon(run, call, 'chat');
          const system = { role: Role.SYSTEM, parts: [textPart(prompts.system)] };
          const user = { role: Role.USER, parts: [textPart(prompts.chat)] };
          expect(call, run.protocol).toMatchObject({
            requestModel: model,
            responseModel: responseModel(model),
            parameters: expected.chatParameters,
            contentCaptured: true,
            content: {
              case: 'plainContent',
              value: {
                systemInstructions: expected.systemApart ? [textPart(prompts.system)] : [],
                inputMessages: expected.systemApart ? [user] : [system, user],
                outputMessages: [
                  {
                    role: Role.ASSISTANT,
                    finishReason: FinishReason.STOP,
                    parts: [textPart(answers.text.content)],
                  },
                ],
              },
            },
            finishReasons: [FinishReason.STOP],
            usage: { inputTokens: 24, outputTokens: 8 },
            timing: { streaming: false },
            status: { code: CallStatusCode.OK },
          });
        }
      });

      it('tools: the tool call, then the answer that reads its result', () => {
        for (const { run, calls } of scenarioCalls('tools')) {
          const [first, second] = calls;
          if (!first || !second) continue;
          expectCommon(run, first, 'tools');
          expectCommon(run, second, 'tools');
          const user = { role: Role.USER, parts: [textPart(prompts.tools)] };
          const tools = expected.toolDefinitions ? [weatherTool] : [];
          expect(first, run.protocol).toMatchObject({
            parameters: { toolChoice: expected.toolChoice ? 'auto' : '' },
            content: {
              value: {
                inputMessages: [user],
                outputMessages: [
                  {
                    role: Role.ASSISTANT,
                    finishReason: FinishReason.TOOL_CALLS,
                    parts: [toolCallPart(expected.toolCallIds)],
                  },
                ],
                toolDefinitions: tools,
              },
            },
            finishReasons: [FinishReason.TOOL_CALLS],
            usage: { inputTokens: 52, outputTokens: 17 },
          });
          // Traceloop 0.22 flattens the assistant's tool call and the tool's answer to text.
          const resultId = (expected.toolResultIds ?? true) ? toolCall.id : '';
          const history = expected.toolCallIds
            ? [
                user,
                { role: Role.ASSISTANT, parts: [toolCallPart(true)] },
                { role: Role.TOOL, parts: [toolResultPart(resultId)] },
              ]
            : [user, { role: Role.ASSISTANT }, { role: Role.TOOL }];
          expect(second, run.protocol).toMatchObject({
            content: {
              value: {
                inputMessages: history,
                outputMessages: [{ parts: [textPart(answers.afterTool.content)] }],
                toolDefinitions: tools,
              },
            },
            finishReasons: [FinishReason.STOP],
            usage: {
              inputTokens: 81,
              outputTokens: 12,
              ...(expected.cachedTokens && { cachedInputTokens: 64 }),
            },
          });
        }
      });

      it('stream: the streamed answer, with the first token where the format gives it', () => {
        for (const { run, calls } of scenarioCalls('stream')) {
          const [call] = calls;
          if (!call) continue;
          expectCommon(run, call, 'stream');
          const answer = { parts: [textPart(answers.text.content)] };
          expect(call, run.protocol).toMatchObject({
            content: {
              value: {
                inputMessages: [{ role: Role.USER, parts: [textPart(prompts.stream)] }],
                outputMessages: (expected.streamOutput ?? true) ? [answer] : [],
              },
            },
            finishReasons: expected.streamFinish ? [FinishReason.STOP] : [],
            timing: { streaming: expected.streaming !== 'no' },
          });
          if (expected.streamUsage) {
            expect(call.usage, run.protocol).toMatchObject({ inputTokens: 24, outputTokens: 8 });
          } else {
            expect(call.usage?.inputTokens, run.protocol).toBeUndefined();
          }
          const firstToken = nanos(call.timing?.timeToFirstToken);
          if (expected.streaming === 'first-token') {
            expect(firstToken, run.protocol).toBeGreaterThan(0n);
            expect(firstToken, run.protocol).toBeLessThan(nanos(call.timing?.latency));
          } else {
            expect(call.timing?.timeToFirstToken, run.protocol).toBeUndefined();
          }
        }
      });

      it('json: the JSON answer, and the schema asked for where the format records it', () => {
        for (const { run, calls } of scenarioCalls('json')) {
          const [call] = calls;
          if (!call) continue;
          expectCommon(run, call, 'json');
          expect(call, run.protocol).toMatchObject({
            content: { value: { outputMessages: [{ parts: [textPart(answers.json.content)] }] } },
            usage: { inputTokens: 30, outputTokens: 11 },
          });
          const format = call.parameters?.responseFormat;
          switch (expected.responseFormat) {
            case 'schema':
            case 'unnamed-schema':
              expect(format, run.protocol).toMatchObject({
                type: ResponseFormatType.JSON_SCHEMA,
                schemaName: expected.responseFormat === 'schema' ? 'capital' : '',
                jsonSchema: capitalSchema,
              });
              break;
            case 'none':
              expect(format, run.protocol).toBeUndefined();
              break;
            case 'unchecked':
              break;
          }
        }
      });

      const responses = expected.responses;
      it(`responses: ${responses ? 'the tool round trip through the Responses API' : 'not instrumented'}`, () => {
        for (const { run, calls } of scenarioCalls('responses')) {
          const [first, second] = calls;
          if (!first || !second || !responses) continue;
          expectCommon(run, first, 'responses');
          expectCommon(run, second, 'responses');
          const system = { role: Role.SYSTEM, parts: [textPart(prompts.system)] };
          const user = { role: Role.USER, parts: [textPart(prompts.tools)] };
          const question = responses.instructions === 'message' ? [system, user] : [user];
          const reasoning = {
            kind: { case: 'reasoning', value: { text: answers.reasoning.summary } },
          };
          const callPart = {
            kind: {
              case: 'toolCall',
              value: {
                ...toolCall,
                id: responses.callId === 'call' ? toolCall.id : answers.toolCallItemId,
              },
            },
          };
          const toolCalls = responses.output === 'items';
          expect(first, run.protocol).toMatchObject({
            requestModel: model,
            responseModel: responseModel(model),
            content: {
              value: {
                systemInstructions:
                  responses.instructions === 'apart' ? [textPart(prompts.system)] : [],
                inputMessages: question,
                outputMessages: [
                  {
                    role: Role.ASSISTANT,
                    finishReason: toolCalls ? FinishReason.TOOL_CALLS : FinishReason.STOP,
                    parts: toolCalls ? [reasoning, callPart] : [textPart('')],
                  },
                ],
              },
            },
            finishReasons: [toolCalls ? FinishReason.TOOL_CALLS : FinishReason.STOP],
            usage: { inputTokens: 52, outputTokens: 17 },
            status: { code: CallStatusCode.OK },
          });
          const items = {
            message: [{ role: Role.ASSISTANT, parts: [reasoning, callPart] }],
            items: [
              { role: Role.ASSISTANT, parts: [reasoning] },
              { role: Role.ASSISTANT, parts: [callPart] },
            ],
            call: [{ role: Role.ASSISTANT, parts: [callPart] }],
          }[responses.history];
          expect(second, run.protocol).toMatchObject({
            content: {
              value: {
                inputMessages: [
                  ...question,
                  ...items,
                  { role: Role.TOOL, parts: [toolResultPart(toolCall.id)] },
                ],
                outputMessages: [
                  { finishReason: FinishReason.STOP, parts: [textPart(answers.afterTool.content)] },
                ],
              },
            },
            finishReasons: [FinishReason.STOP],
            usage: { inputTokens: 81, outputTokens: 12 },
          });
        }
      });

      if (expected.embedContext !== undefined) {
        it('embed: one call per provider request, without content', () => {
          for (const { run, calls } of scenarioCalls('embed')) {
            const { tokensPerInput } = answers.embedding;
            calls.forEach((call, index) => {
              expectCommon(run, call, 'embed');
              expect(call, run.protocol).toMatchObject({
                requestModel: embeddingModel,
                contentCaptured: false,
                content: { case: undefined },
                usage: { inputTokens: (index + 1) * tokensPerInput },
                status: { code: CallStatusCode.OK },
              });
            });
          }
        });
      }

      it(`error: ${expected.failedCalls ? 'the failed call with its prompt' : 'never exported'}`, () => {
        for (const { run, calls } of scenarioCalls('error')) {
          const [call] = calls;
          if (!call) continue;
          expectCommon(run, call, 'error');
          expect(call, run.protocol).toMatchObject({
            requestModel: 'fail-500',
            responseModel: '',
            content: {
              value: {
                inputMessages: [{ role: Role.USER, parts: [textPart(prompts.error)] }],
                outputMessages: [],
              },
            },
            finishReasons: [],
            status: { code: CallStatusCode.ERROR },
          });
          expect(call.status?.errorMessage, run.protocol).toContain('The server had an error');
          if (expected.errorType !== undefined) {
            expect(call.status?.errorType, run.protocol).toBe(expected.errorType);
          }
        }
      });

      it('capture off: usage, finish and parameters, and no content', () => {
        for (const { run, calls } of scenarioCalls('capture-off', false)) {
          const [call] = calls;
          if (!call) continue;
          expectCommon(run, call, 'capture-off');
          expect(call, run.protocol).toMatchObject({
            requestModel: model,
            parameters: expected.chatParameters,
            contentCaptured: false,
            content: { case: undefined },
            finishReasons: expected.finishWithoutContent ? [FinishReason.STOP] : [],
            usage: { inputTokens: 24, outputTokens: 8 },
            status: { code: CallStatusCode.OK },
          });
        }
      });
    },
  );
});
