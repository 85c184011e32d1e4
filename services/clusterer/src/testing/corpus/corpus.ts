import { createHash } from 'node:crypto';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { durationFromMs, timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  CallCapturedSchema,
  CallStatusCode,
  FinishReason,
  LlmCallSchema,
  Operation,
  ResponseFormatType,
  Role,
  SourceFormat,
  type CallCaptured,
  type ChatMessageSchema,
  type LlmCall,
  type RequestParametersSchema,
} from '@understudy/contracts';
import { assistantTasks } from './assistant.js';
import { codingTasks } from './coding.js';
import { documentTasks } from './documents.js';
import { Random } from './random.js';
import { researchTasks } from './research.js';
import type { Deployment, Exchange, TaskSpec } from './spec.js';
import { supportTasks } from './support.js';

/**
 * The evaluation corpus: two weeks of one tenant's multi-agent traffic, every call labelled with
 * the task it really does. Six agent archetypes, fifteen tasks, among them:
 * - one generic assistant prompt serving four jobs (translation, SQL, e-mails, small talk),
 *   which only content can split;
 * - one job behind several templates: an A/B-tested router prompt, an invoice extraction done
 *   by two teams with paraphrased prompts, a billing prompt that names one of eight brands;
 * - non-repetitive small talk, spam reviews reposted with small edits, exact retries;
 * - lengths from three words to multi-page contracts and 40-line invoices;
 * - calls without captured content, a task that starts on day 4 and one that stops on day 9.
 */
export const corpusTasks: readonly TaskSpec[] = [
  ...supportTasks,
  ...documentTasks,
  ...codingTasks,
  ...assistantTasks,
  ...researchTasks,
];

export interface CorpusOptions {
  readonly seed: number;
  /** Calls to generate, about (daily counts vary by ±20%). */
  readonly calls: number;
  /** Days of traffic; tasks' and deployments' day ranges refer to these. */
  readonly days?: number;
  /** Midnight UTC of day 0. */
  readonly startMs?: number;
  readonly tenantId?: string;
  /** Share of calls sent again, unchanged, seconds later (client retries). */
  readonly retryRate?: number;
  /** Generate only days [from, to) of the corpus, e.g. to build a large one in parallel. */
  readonly only?: readonly [number, number];
}

/** A captured call as the collector publishes it, with its ground truth. */
export interface LabelledCall {
  readonly captured: CallCaptured;
  readonly task: string;
  readonly archetype: string;
  readonly day: number;
  readonly timeMs: number;
}

const dayMs = 86_400_000;
const defaultStartMs = Date.UTC(2026, 10, 2);

/**
 * The corpus, a day at a time in time order, so that a million calls need not be held at once.
 * The same options give the same calls, ids and timestamps on every run; each day draws from
 * its own seeded stream, so a day is the same whether generated alone or with the others.
 */
export function* generateCorpus(options: CorpusOptions): Generator<LabelledCall> {
  const days = options.days ?? 14;
  const startMs = options.startMs ?? defaultStartMs;
  const tenantId = options.tenantId ?? 'acme';
  const retryRate = options.retryRate ?? 0.02;
  const [from, to] = options.only ?? [0, days];
  const activeDays = (task: TaskSpec) => {
    const [from, to] = task.days ?? [0, days];
    return Math.max(0, Math.min(to, days) - Math.max(from, 0));
  };
  const weightDays = corpusTasks.reduce((sum, task) => sum + task.weight * activeDays(task), 0);
  const perWeightPerDay = options.calls / weightDays;

  for (let day = Math.max(0, from); day < Math.min(days, to); day++) {
    const random = new Random(Math.imul(options.seed, 0x9e3779b1) ^ Math.imul(day + 1, 0x85ebca6b));
    const calls: LabelledCall[] = [];
    for (const task of corpusTasks) {
      if (!serves(task.days, day)) continue;
      const deployments = task.deployments.filter((deployment) => serves(deployment.days, day));
      const count = Math.round(task.weight * perWeightPerDay * (0.8 + 0.4 * random.next()));
      for (let i = 0; i < count; i++) {
        const timeMs = startMs + day * dayMs + Math.floor(random.next() * dayMs);
        const deployment = random.weighted(deployments, (d) => d.share ?? 1);
        const exchange = task.exchange(random);
        const captured = random.chance(deployment.contentCapture ?? 1);
        const call = { task, deployment, exchange, captured, day };
        calls.push(labelled(call, timeMs, tenantId, random));
        if (random.chance(retryRate)) {
          calls.push(labelled(call, timeMs + random.int(1, 30) * 1000, tenantId, random));
        }
      }
    }
    calls.sort((a, b) => a.timeMs - b.timeMs);
    yield* calls;
  }
}

interface Drawn {
  readonly task: TaskSpec;
  readonly deployment: Deployment;
  readonly exchange: Exchange;
  readonly captured: boolean;
  readonly day: number;
}

function serves(days: readonly [number, number] | undefined, day: number): boolean {
  return days === undefined || (day >= days[0] && day < days[1]);
}

function labelled(drawn: Drawn, timeMs: number, tenantId: string, random: Random): LabelledCall {
  const traceId = random.hex(32);
  const spanId = random.hex(16);
  const callId = createHash('sha256')
    .update(`${tenantId}:${traceId}:${spanId}`)
    .digest('hex')
    .slice(0, 32);
  const call = llmCall(drawn, { tenantId, traceId, spanId, callId, timeMs }, random);
  const captured = create(CallCapturedSchema, {
    meta: {
      eventId: callId,
      tenantId,
      occurredAt: timestampFromMs(timeMs),
      producer: 'collector',
    },
    call,
  });
  return {
    captured,
    task: drawn.task.task,
    archetype: drawn.task.archetype,
    day: drawn.day,
    timeMs,
  };
}

interface Ids {
  readonly tenantId: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly callId: string;
  readonly timeMs: number;
}

type Message = MessageInitShape<typeof ChatMessageSchema>;

function llmCall(drawn: Drawn, ids: Ids, random: Random): LlmCall {
  const { deployment, exchange } = drawn;
  const system = deployment.system(random);
  const input: Message[] = [
    { role: Role.SYSTEM, parts: [text(system)] },
    { role: Role.USER, parts: [text(exchange.user)] },
  ];
  if (exchange.toolResult !== undefined) {
    input.push({
      role: Role.TOOL,
      parts: [
        {
          kind: {
            case: 'toolCallResponse',
            value: { id: 'call_1', response: exchange.toolResult },
          },
        },
      ],
    });
  }
  const output = exchange.output;
  const toolCall = typeof output !== 'string';
  const outputMessage: Message = {
    role: Role.ASSISTANT,
    parts: [
      toolCall
        ? {
            kind: {
              case: 'toolCall',
              value: { id: 'call_2', name: output.tool, arguments: output.arguments },
            },
          }
        : text(output),
    ],
    finishReason: toolCall ? FinishReason.TOOL_CALLS : FinishReason.STOP,
  };
  const inputChars = system.length + exchange.user.length + (exchange.toolResult?.length ?? 0);
  const outputChars = toolCall ? output.arguments.length : output.length;
  return create(LlmCallSchema, {
    ...ids,
    context: {
      serviceName: deployment.service,
      agentName: deployment.agent,
      workflowName: deployment.workflow ?? '',
      stepName: deployment.step ?? '',
    },
    operation: Operation.CHAT,
    provider: deployment.model.startsWith('claude') ? 'anthropic' : 'openai',
    requestModel: deployment.model,
    responseModel: deployment.model,
    parameters: parameters(deployment),
    contentCaptured: drawn.captured,
    ...(drawn.captured && {
      content: {
        case: 'plainContent',
        value: {
          inputMessages: input,
          outputMessages: [outputMessage],
          toolDefinitions: (deployment.tools ?? []).map((name) => ({ type: 'function', name })),
        },
      },
    }),
    finishReasons: [toolCall ? FinishReason.TOOL_CALLS : FinishReason.STOP],
    // About four characters a token.
    usage: { inputTokens: Math.ceil(inputChars / 4), outputTokens: Math.ceil(outputChars / 4) },
    timing: {
      startTime: timestampFromMs(ids.timeMs),
      latency: durationFromMs(300 + Math.round(outputChars * 8 * (0.5 + random.next()))),
    },
    status: { code: CallStatusCode.OK },
    source: { format: SourceFormat.OTEL_GENAI_ATTRIBUTES, version: '1.37' },
  });
}

function parameters(deployment: Deployment): MessageInitShape<typeof RequestParametersSchema> {
  const format = deployment.format;
  if (format === 'text') return { responseFormat: { type: ResponseFormatType.TEXT } };
  if (format === 'json_object') return { responseFormat: { type: ResponseFormatType.JSON_OBJECT } };
  return {
    responseFormat: {
      type: ResponseFormatType.JSON_SCHEMA,
      schemaName: format.schemaName,
      jsonSchema: format.schema,
    },
  };
}

const text = (value: string) => ({ kind: { case: 'text' as const, value: { text: value } } });
