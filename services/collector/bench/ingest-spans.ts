import { readFileSync } from 'node:fs';
import { ROOT_CONTEXT, SpanKind, trace, type Attributes, type Tracer } from '@opentelemetry/api';

/**
 * The traces a load client sends: one `invoke_agent` span around `chatsPerTrace` chat spans, as
 * an agent instrumented with OTel GenAI semconv 1.37 exports them, each chat span carrying its
 * content (`gen_ai.system_instructions`, `gen_ai.input.messages`, `gen_ai.output.messages`)
 * as JSON strings of about `chatBytes` in all.
 *
 * The text is support-desk prose with order numbers, dates and versions (which must survive
 * redaction), and, in a `piiShare` of the messages, an item of the redaction corpus
 * (test/redaction/corpus.jsonl): prompts, tool arguments and results, log lines and errors with
 * real-looking PII and secrets, or hard negatives (ids, hashes, code). Conversations are built
 * once per client into a pool and picked at random per span, so that generating them costs the
 * client (which shares the CPU with the collector) little.
 */
export interface TraceShape {
  readonly chatsPerTrace: number;
  /** Bytes of content attributes per chat span (JSON text), roughly. */
  readonly chatBytes: number;
  /** The share of messages (0–1) taken from the redaction corpus rather than written as prose. */
  readonly piiShare: number;
}

interface CorpusItem {
  readonly source: string;
  readonly text: string;
}

type Part =
  | { type: 'text'; content: string }
  | { type: 'tool_call'; id: string; name: string; arguments: unknown }
  | { type: 'tool_call_response'; id: string; response: string };

interface Message {
  role: 'user' | 'assistant' | 'tool';
  parts: Part[];
  finish_reason?: string;
}

interface Chat {
  readonly model: string;
  readonly attributes: Attributes;
}

const corpusUrl = new URL('../test/redaction/corpus.jsonl', import.meta.url);
export const schemaUrl = 'https://opentelemetry.io/schemas/1.37.0';
const models = ['gpt-4.1-mini', 'gpt-4o', 'gpt-4.1', 'o4-mini'];
const tools = ['lookup_customer', 'get_order', 'search_logs', 'create_ticket', 'run_sql'];
/** Distinct conversations per client; spans pick among them. */
const poolSize = 256;
/** Bytes a chat span carries besides its content (ids, model, usage, server). */
const otherAttributeBytes = 350;

const systemPrompt = [
  'You are the support assistant of Northwind Outfitters. Answer in the language of the',
  'customer, briefly and politely. Use the tools to look up customers, orders, shipments and',
  'logs; never guess an order status. Do not repeat payment details or secrets back to the',
  'customer. When a refund is over 200 EUR, create a ticket for a human agent instead of',
  'promising it. Summarise what you did at the end of each answer.',
].join(' ');

/** Sentences of the prose; `#` is replaced by digits, so ids and dates vary. */
const sentences = [
  'I checked order ORD-2026-#### and it left the Leipzig warehouse on #/11 with two parcels.',
  'The tracking page shows the parcel in transit; carriers usually deliver within three working days.',
  'Our policy allows a change of address only before dispatch, so I cannot redirect this one.',
  'I can offer a return label instead, and the refund follows once the item is scanned back in.',
  'The logs show the sync job failed at 0#:## UTC with a timeout after # retries.',
  'Version 4.#.# of the app fixed the crash on start, so updating should solve it.',
  'The invoice total of ### EUR includes shipping and the extended warranty.',
  'The customer asked whether the blue jacket in size M is back in stock next week.',
  'Stock for article 10-####-# is expected on Monday; I added a reminder to the ticket.',
  'I could not find a second account under that name, so nothing needs to be merged.',
  'The payment was authorised but not captured, which is why the bank shows it as pending.',
  'Ticket #### is assigned to the logistics team; they answer within one business day.',
  'The discount code expired at the end of October and cannot be applied retroactively.',
  'I summarised the conversation and closed the ticket with the tag shipping-delay.',
  'The query returned ## rows; the oldest open order is from #/10 and is waiting for stock.',
  'Let me check the delivery options for the customer’s region before I promise a date.',
];

/** A small seeded generator (mulberry32): each client gets varied but repeatable content. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function loadTexts(): Map<string, string[]> {
  const bySource = new Map<string, string[]>();
  for (const line of readFileSync(corpusUrl, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const item = JSON.parse(line) as CorpusItem;
    const texts = bySource.get(item.source) ?? [];
    texts.push(item.text);
    bySource.set(item.source, texts);
  }
  return bySource;
}

class Conversations {
  private readonly texts = loadTexts();
  private readonly random: () => number;
  private readonly piiShare: number;
  private calls = 0;

  constructor(random: () => number, piiShare: number) {
    this.random = random;
    this.piiShare = piiShare;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.random() * items.length)];
    if (item === undefined) throw new Error('cannot pick from an empty list');
    return item;
  }

  /** Two to four sentences of prose. */
  prose(): string {
    const count = 2 + Math.floor(this.random() * 3);
    return Array.from({ length: count }, () =>
      this.pick(sentences).replaceAll('#', () => String(Math.floor(this.random() * 10))),
    ).join(' ');
  }

  /** A corpus item of one of the sources, in a `piiShare` of the calls; prose otherwise. */
  text(...sources: string[]): string {
    if (this.random() >= this.piiShare) return this.prose();
    return this.pick(this.texts.get(this.pick(sources)) ?? ['']);
  }

  /** A user turn, a tool call and its result, and the assistant's reading of it. */
  turn(): Message[] {
    const id = `call_${String(++this.calls)}`;
    const rawArguments = this.text('tool_args');
    let args: unknown = rawArguments;
    try {
      args = JSON.parse(rawArguments);
    } catch {
      // Tool arguments that are not JSON (shell lines, SQL, prose) travel as a string.
    }
    return [
      { role: 'user', parts: [{ type: 'text', content: this.text('prompt', 'handwritten') }] },
      {
        role: 'assistant',
        parts: [{ type: 'tool_call', id, name: this.pick(tools), arguments: args }],
      },
      {
        role: 'tool',
        parts: [
          {
            type: 'tool_call_response',
            id,
            response: this.text('tool_result', 'log', 'error', 'negative'),
          },
        ],
      },
      { role: 'assistant', parts: [{ type: 'text', content: this.prose() }] },
    ];
  }

  /** Turns until the content is about `bytes` long, and the assistant's answer. */
  chat(bytes: number): { input: string; output: string } {
    const answer: Message[] = [
      {
        role: 'assistant',
        parts: [{ type: 'text', content: `${this.prose()}\n\n${this.text('reasoning')}` }],
        finish_reason: 'stop',
      },
    ];
    const output = JSON.stringify(answer);
    const budget = bytes - systemPrompt.length - output.length;
    const messages: Message[] = [];
    let input = '[]';
    let shorter = input;
    while (input.length < budget) {
      shorter = input;
      messages.push(...this.turn());
      input = JSON.stringify(messages);
    }
    // Whichever of the last two lengths is nearer the budget, but at least one turn.
    const nearer = shorter !== '[]' && budget - shorter.length < input.length - budget;
    return { input: nearer ? shorter : input, output };
  }
}

function chatVariant(conversations: Conversations, random: () => number, bytes: number): Chat {
  const model = conversations.pick(models);
  const { input, output } = conversations.chat(bytes - otherAttributeBytes);
  return {
    model,
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': model,
      'gen_ai.request.temperature': Math.round(random() * 10) / 10,
      'gen_ai.request.max_tokens': 1024,
      'gen_ai.response.model': `${model}-2025-04-14`,
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': Math.round(input.length / 4),
      'gen_ai.usage.output_tokens': Math.round(output.length / 4),
      'server.address': 'api.openai.com',
      'server.port': 443,
      'gen_ai.system_instructions': JSON.stringify([{ type: 'text', content: systemPrompt }]),
      'gen_ai.input.messages': input,
      'gen_ai.output.messages': output,
    },
  };
}

export class GenAiTraces {
  private readonly shape: TraceShape;
  private readonly random: () => number;
  private readonly pool: Chat[] = [];
  private traces = 0;

  constructor(shape: TraceShape, seed: number) {
    this.shape = shape;
    this.random = seededRandom(seed);
    const conversations = new Conversations(this.random, shape.piiShare);
    for (let i = 0; i < poolSize; i++) {
      this.pool.push(chatVariant(conversations, this.random, shape.chatBytes));
    }
  }

  get spansPerTrace(): number {
    return this.shape.chatsPerTrace + 1;
  }

  /** Records one agent invocation that just finished: its chat spans, then the agent span. */
  emit(tracer: Tracer, nowMs: number): void {
    const conversationId = `conv-${String(process.pid)}-${String(++this.traces)}`;
    const durations = Array.from(
      { length: this.shape.chatsPerTrace },
      () => 400 + 2000 * this.random(),
    );
    let at = nowMs - durations.reduce((sum, ms) => sum + ms, 0) - 50;
    const agent = tracer.startSpan(
      'invoke_agent support-agent',
      {
        kind: SpanKind.INTERNAL,
        startTime: at,
        attributes: {
          'gen_ai.operation.name': 'invoke_agent',
          'gen_ai.provider.name': 'openai',
          'gen_ai.agent.id': 'agent-support-1',
          'gen_ai.agent.name': 'support-agent',
          'gen_ai.conversation.id': conversationId,
        },
      },
      ROOT_CONTEXT,
    );
    const parent = trace.setSpan(ROOT_CONTEXT, agent);
    for (const duration of durations) {
      const chat = this.pool[Math.floor(this.random() * this.pool.length)];
      if (chat === undefined) continue;
      const span = tracer.startSpan(
        `chat ${chat.model}`,
        {
          kind: SpanKind.CLIENT,
          startTime: at,
          attributes: {
            ...chat.attributes,
            'gen_ai.conversation.id': conversationId,
            'gen_ai.response.id': `chatcmpl-${conversationId}-${String(Math.round(at))}`,
          },
        },
        parent,
      );
      at += duration;
      span.end(at);
    }
    agent.end(nowMs);
  }
}
