import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/** One LLM call of the bundled sample (`deploy/embedded/demo/agent-traffic.jsonl`). */
export interface RecordedCall {
  readonly agent: string;
  readonly model: string;
  readonly system: string;
  readonly user: string;
  readonly assistant: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly latencyMs: number;
}

const sample = new URL('../../demo/agent-traffic.jsonl', import.meta.url);

export async function agentTraffic(): Promise<RecordedCall[]> {
  const text = await readFile(sample, 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as RecordedCall);
}

type AnyValue = { stringValue: string } | { intValue: string };
const attribute = (key: string, value: string | number) => ({
  key,
  value: (typeof value === 'string'
    ? { stringValue: value }
    : { intValue: String(value) }) satisfies AnyValue,
});

/**
 * The calls as an OTLP/JSON trace export, one resource per agent, each call a client span in
 * the OpenTelemetry GenAI semantic conventions (≥ 1.37), as instrumented agents send them.
 */
export function otlpExport(calls: readonly RecordedCall[], now = Date.now()) {
  const agents = [...new Set(calls.map((call) => call.agent))];
  return {
    resourceSpans: agents.map((agent) => ({
      resource: { attributes: [attribute('service.name', agent)] },
      scopeSpans: [
        {
          scope: { name: '@opentelemetry/instrumentation-openai', version: '0.5.0' },
          schemaUrl: 'https://opentelemetry.io/schemas/1.37.0',
          spans: calls
            .filter((call) => call.agent === agent)
            .map((call, index) => {
              const end = BigInt(now - index * 1_000) * 1_000_000n;
              return {
                traceId: randomBytes(16).toString('hex'),
                spanId: randomBytes(8).toString('hex'),
                name: `chat ${call.model}`,
                kind: 3,
                startTimeUnixNano: String(end - BigInt(call.latencyMs) * 1_000_000n),
                endTimeUnixNano: String(end),
                attributes: [
                  attribute('gen_ai.operation.name', 'chat'),
                  attribute('gen_ai.provider.name', 'openai'),
                  attribute('gen_ai.request.model', call.model),
                  attribute('gen_ai.response.model', call.model),
                  attribute('gen_ai.agent.name', call.agent),
                  attribute(
                    'gen_ai.system_instructions',
                    JSON.stringify([{ type: 'text', content: call.system }]),
                  ),
                  attribute(
                    'gen_ai.input.messages',
                    JSON.stringify([
                      { role: 'user', parts: [{ type: 'text', content: call.user }] },
                    ]),
                  ),
                  attribute(
                    'gen_ai.output.messages',
                    JSON.stringify([
                      {
                        role: 'assistant',
                        parts: [{ type: 'text', content: call.assistant }],
                        finish_reason: 'stop',
                      },
                    ]),
                  ),
                  attribute('gen_ai.usage.input_tokens', call.inputTokens),
                  attribute('gen_ai.usage.output_tokens', call.outputTokens),
                ],
              };
            }),
        },
      ],
    })),
  };
}
