import { randomBytes } from 'node:crypto';
import { create, toBinary } from '@bufbuild/protobuf';
import { otlpCommon, otlpTrace, otlpTraceService } from '@understudy/contracts';

/**
 * A simulated agent fleet: the traffic shape of the end-to-end test and of the demo. Two
 * repetitive tasks an LLM does all day (reading invoices into JSON, looking up orders with a
 * tool) and a few one-off requests, sent to an OpenAI-compatible LLM, with every call exported
 * as an OTLP span in the OpenTelemetry GenAI conventions (≥ 1.37), as instrumented agents do.
 */

export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant' | 'tool';
  readonly content: string | null;
  readonly tool_calls?: readonly ToolCall[];
  readonly tool_call_id?: string;
}

export interface ToolCall {
  readonly id: string;
  readonly type: 'function';
  readonly function: { readonly name: string; readonly arguments: string };
}

export interface Tool {
  readonly type: 'function';
  readonly function: {
    readonly name: string;
    readonly description: string;
    readonly parameters: Record<string, unknown>;
  };
}

export interface ChatRequest {
  readonly model: string;
  readonly messages: readonly ChatMessage[];
  readonly tools?: readonly Tool[];
  readonly max_tokens?: number;
}

export interface ChatCompletion {
  readonly id: string;
  readonly object: 'chat.completion';
  readonly model: string;
  readonly choices: readonly {
    readonly index: number;
    readonly message: ChatMessage;
    readonly finish_reason: string;
  }[];
  readonly usage: { readonly prompt_tokens: number; readonly completion_tokens: number };
}

/** What a call was for: one of the two recurring tasks, or a one-off. */
export type Job = 'invoice' | 'order-lookup' | 'one-off';

export interface AgentCall {
  readonly job: Job;
  readonly request: ChatRequest;
}

/** The model the agents ask for; the LLM answers whatever is asked. */
export const llmModel = 'gpt-4o-mini';

export const invoiceInstructions =
  'You read supplier invoices for the accounts-payable team. Reply with JSON only: ' +
  'the vendor, the total due as a number and the ISO currency code.';

export const orderInstructions =
  'You are the support assistant of an online shop. When a customer asks about an order, ' +
  'call lookup_order with the order number before you answer.';

export const lookupOrder: Tool = {
  type: 'function',
  function: {
    name: 'lookup_order',
    description: 'Looks up the status of an order by its number',
    parameters: {
      type: 'object',
      properties: { order_id: { type: 'string' } },
      required: ['order_id'],
    },
  },
};

const vendors = [
  'Acme Tools',
  'Globex Office Supply',
  'Initech Consulting',
  'Umbrella Logistics',
  'Stark Hardware',
  'Wayne Catering',
  'Hooli Cloud',
  'Soylent Foods',
];
const items = [
  'boxes of printer paper',
  'hours of consulting',
  'pallets shipped',
  'sets of drill bits',
  'catered lunches',
  'terabytes of storage',
  'desk chairs',
  'crates of coffee',
];
const currencies = ['EUR', 'USD', 'GBP'];
const articles = [
  'a pair of running shoes',
  'a standing desk',
  'two winter jackets',
  'a coffee grinder',
  'a set of kitchen knives',
  'a garden hose',
  'a children’s bicycle',
  'noise-cancelling headphones',
];
const months = ['March', 'April', 'May', 'June', 'July', 'August', 'September', 'October'];

const pick = <T>(values: readonly T[], i: number): T => values[i % values.length] as T;

/** The `i`th invoice an agent reads: each one from another vendor, for other goods and sums. */
export function invoiceRequest(i: number): ChatRequest {
  const quantity = 3 + ((i * 7) % 40);
  const unit = 12.5 + ((i * 13) % 90);
  const currency = pick(currencies, i);
  const user = [
    `Invoice INV-${String(2026_0100 + i)} from ${pick(vendors, i)}`,
    `Date: ${String(1 + ((i * 5) % 28))} ${pick(months, i)} 2026`,
    `${String(quantity)} ${pick(items, i)} at ${unit.toFixed(2)} ${currency} each`,
    `Total due: ${(quantity * unit).toFixed(2)} ${currency}`,
    'Payment terms: 30 days net, by bank transfer to the account on file.',
  ].join('\n');
  return {
    model: llmModel,
    messages: [
      { role: 'system', content: invoiceInstructions },
      { role: 'user', content: user },
    ],
  };
}

const orderNumber = (i: number) => `SO-${String(48_213 + i * 97)}`;

/** The `i`th customer asking where their order is. */
export function orderLookupRequest(i: number): ChatRequest {
  const user =
    `Hello, I ordered ${pick(articles, i)} on ${String(2 + ((i * 3) % 26))} ${pick(months, i + 3)} ` +
    `and it has not arrived yet. My order number is ${orderNumber(i)}. Can you check where it is?`;
  return {
    model: llmModel,
    messages: [
      { role: 'system', content: orderInstructions },
      { role: 'user', content: user },
    ],
    tools: [lookupOrder],
  };
}

/** Requests that share nothing with each other or with the tasks: each its own prompt. */
export const oneOffRequests: readonly ChatRequest[] = [
  ['You are a poet.', 'Write a haiku about autumn rain in Kyoto.'],
  ['You translate English into French.', 'Translate: the meeting moved to Thursday afternoon.'],
  ['You answer trivia questions in one sentence.', 'What is the capital of Australia?'],
  ['You are a chess coach.', 'Suggest an opening for a beginner who plays white.'],
].map(([system, user]) => ({
  model: llmModel,
  messages: [
    { role: 'system', content: system ?? '' },
    { role: 'user', content: user ?? '' },
  ],
}));

/**
 * A day of traffic: `perTask` calls of each task and the first `oneOffs` one-off requests,
 * interleaved as agents working side by side would send them.
 */
export function agentTraffic(options: { perTask: number; oneOffs: number }): AgentCall[] {
  if (options.oneOffs > oneOffRequests.length) {
    throw new RangeError(`at most ${String(oneOffRequests.length)} one-off requests`);
  }
  const calls: AgentCall[] = [];
  for (let i = 0; i < Math.max(options.perTask, options.oneOffs); i++) {
    if (i < options.perTask) {
      calls.push({ job: 'invoice', request: invoiceRequest(i) });
      calls.push({ job: 'order-lookup', request: orderLookupRequest(i) });
    }
    const oneOff = i < options.oneOffs ? oneOffRequests[i] : undefined;
    if (oneOff !== undefined) calls.push({ job: 'one-off', request: oneOff });
  }
  return calls;
}

/** One call as the agent made it, and the span it exported about it. */
export interface SimulatedCall extends AgentCall {
  readonly completion: ChatCompletion;
  /** Hex ids of the exported span. */
  readonly traceId: string;
  readonly spanId: string;
}

export interface AgentFleetOptions {
  /** The LLM's OpenAI-compatible base URL, up to and including the version (`…/v1`). */
  readonly llmBaseUrl: string;
  /** The collector's OTLP/HTTP traces URL (`…/v1/traces`) and the tenant's API key. */
  readonly collectorUrl: string;
  readonly apiKey: string;
  /**
   * `service.name` of the agents' resource; none when absent. Leave it out for traffic the
   * gateway should route later: it classifies live calls without an agent or service name
   * (nothing in a chat request says which agent sent it), and the structural signature that
   * tasks are matched by includes that name.
   */
  readonly serviceName?: string;
  /** Spans per OTLP export, as a batching span processor would send them; 8 by default. */
  readonly batchSize?: number;
}

/** Makes every call against the LLM, in order, and exports a span for each to the collector. */
export async function runAgents(
  calls: readonly AgentCall[],
  options: AgentFleetOptions,
): Promise<SimulatedCall[]> {
  const made: SimulatedCall[] = [];
  const pending: otlpTrace.Span[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    await exportSpans(pending.splice(0), options);
  };
  for (const call of calls) {
    const startNanos = nowNanos();
    const completion = await chat(options.llmBaseUrl, call.request);
    const span = chatSpan(call.request, completion, startNanos, nowNanos());
    pending.push(span);
    made.push({ ...call, completion, traceId: hex(span.traceId), spanId: hex(span.spanId) });
    if (pending.length >= (options.batchSize ?? 8)) await flush();
  }
  await flush();
  return made;
}

/** POST /chat/completions; anything but a 200 completion is an error. */
export async function chat(baseUrl: string, request: ChatRequest): Promise<ChatCompletion> {
  const response = await fetch(`${baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request),
  });
  if (!response.ok) {
    throw new Error(`the LLM answered ${String(response.status)}: ${await response.text()}`);
  }
  return (await response.json()) as ChatCompletion;
}

async function exportSpans(spans: otlpTrace.Span[], options: AgentFleetOptions): Promise<void> {
  const resource = options.serviceName === undefined ? {} : { 'service.name': options.serviceName };
  const request = create(otlpTraceService.ExportTraceServiceRequestSchema, {
    resourceSpans: [
      {
        resource: { attributes: attributes(resource) },
        scopeSpans: [
          {
            scope: { name: 'understudy-agent-simulator', version: '1.0.0' },
            schemaUrl: 'https://opentelemetry.io/schemas/1.37.0',
            spans,
          },
        ],
      },
    ],
  });
  const response = await fetch(options.collectorUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-protobuf',
      authorization: `Bearer ${options.apiKey}`,
    },
    body: toBinary(otlpTraceService.ExportTraceServiceRequestSchema, request),
  });
  if (!response.ok) {
    throw new Error(`the collector answered ${String(response.status)}: ${await response.text()}`);
  }
}

/** The CLIENT span an instrumented OpenAI client records: content as JSON attributes. */
function chatSpan(
  request: ChatRequest,
  completion: ChatCompletion,
  startNanos: bigint,
  endNanos: bigint,
): otlpTrace.Span {
  const system = request.messages.filter((m) => m.role === 'system');
  const input = request.messages.filter((m) => m.role !== 'system');
  const tools = (request.tools ?? []).map(({ type, function: fn }) => ({ type, ...fn }));
  return create(otlpTrace.SpanSchema, {
    traceId: randomBytes(16),
    spanId: randomBytes(8),
    name: `chat ${request.model}`,
    kind: otlpTrace.Span_SpanKind.CLIENT,
    startTimeUnixNano: startNanos,
    endTimeUnixNano: endNanos,
    attributes: attributes({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': request.model,
      'gen_ai.response.model': completion.model,
      'gen_ai.response.id': completion.id,
      'gen_ai.response.finish_reasons': completion.choices.map((c) => c.finish_reason),
      'gen_ai.usage.input_tokens': completion.usage.prompt_tokens,
      'gen_ai.usage.output_tokens': completion.usage.completion_tokens,
      ...(system.length > 0 && {
        'gen_ai.system_instructions': JSON.stringify(
          system.map((m) => ({ type: 'text', content: m.content ?? '' })),
        ),
      }),
      'gen_ai.input.messages': JSON.stringify(input.map(semconvMessage)),
      'gen_ai.output.messages': JSON.stringify(
        completion.choices.map((c) => ({
          ...semconvMessage(c.message),
          finish_reason: c.finish_reason,
        })),
      ),
      ...(tools.length > 0 && { 'gen_ai.tool.definitions': JSON.stringify(tools) }),
    }),
  });
}

/** An OpenAI message as a semconv message: `{role, parts}`. */
function semconvMessage(message: ChatMessage): { role: string; parts: unknown[] } {
  const parts: unknown[] = [];
  if (message.role === 'tool') {
    parts.push({
      type: 'tool_call_response',
      id: message.tool_call_id ?? '',
      response: message.content ?? '',
    });
  } else if (message.content !== null && message.content !== '') {
    parts.push({ type: 'text', content: message.content });
  }
  for (const call of message.tool_calls ?? []) {
    parts.push({
      type: 'tool_call',
      id: call.id,
      name: call.function.name,
      arguments: call.function.arguments,
    });
  }
  return { role: message.role, parts };
}

type AttributeValue = string | number | readonly string[];

function attributes(values: Record<string, AttributeValue>): otlpCommon.KeyValue[] {
  return Object.entries(values).map(([key, value]) =>
    create(otlpCommon.KeyValueSchema, { key, value: anyValue(value) }),
  );
}

function anyValue(value: AttributeValue): otlpCommon.AnyValue {
  if (typeof value === 'number') {
    return create(otlpCommon.AnyValueSchema, { value: { case: 'intValue', value: BigInt(value) } });
  }
  if (typeof value === 'string') {
    return create(otlpCommon.AnyValueSchema, { value: { case: 'stringValue', value } });
  }
  return create(otlpCommon.AnyValueSchema, {
    value: { case: 'arrayValue', value: { values: value.map(anyValue) } },
  });
}

const nowNanos = () => BigInt(Date.now()) * 1_000_000n;
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
