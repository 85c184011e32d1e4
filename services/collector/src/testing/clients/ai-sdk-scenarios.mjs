// The agent's conversations, made with the Vercel AI SDK against the fake server: the same
// requests as openai-scenarios.mjs, expressed in the SDK's terms. The SDK opens its own spans
// (one per generateText/streamText, one per model call, one per tool execution); each scenario
// runs inside the request span of the web handler that a real AI SDK app would have.
import { SpanKind } from '@opentelemetry/api';
import { system, weatherReport, weatherTool } from './openai-scenarios.mjs';
import { captureContent, fakeOpenAiBaseUrl, inSpan, tracer } from './telemetry.mjs';

export const model = 'gpt-4o-mini';
export const embeddingModel = 'text-embedding-3-small';
export const functionId = 'travel-agent';

/**
 * Runs every scenario with the given AI SDK (`ai` and `createOpenAI` of one major version) and
 * returns their trace ids by name. `telemetry(scenario)` gives the SDK options that enable
 * telemetry in that version. With content capture off only the plain chat call is made.
 */
export async function runAiSdkScenarios({ ai, createOpenAI, telemetry }) {
  const { embed, embedMany, generateText, jsonSchema, Output, stepCountIs, streamText, tool } = ai;
  const provider = createOpenAI({ baseURL: fakeOpenAiBaseUrl(), apiKey: 'sk-test' });
  const chat = (name) => provider.chat(name);
  const getWeather = tool({
    description: weatherTool.function.description,
    inputSchema: jsonSchema(weatherTool.function.parameters),
    execute: async () => weatherReport,
  });

  const scenarios = {
    chat: (options) =>
      generateText({
        ...options,
        model: chat(model),
        system,
        prompt: 'What is the capital of Norway?',
        temperature: 0.2,
        topP: 0.9,
        maxOutputTokens: 64,
        stopSequences: ['END'],
        seed: 42,
        presencePenalty: 0.1,
        frequencyPenalty: 0.2,
      }),
    tools: (options) =>
      generateText({
        ...options,
        model: chat(model),
        prompt: 'What is the weather in Oslo right now?',
        tools: { get_weather: getWeather },
        toolChoice: 'auto',
        stopWhen: stepCountIs(2),
      }),
    stream: async (options) => {
      const result = streamText({
        ...options,
        model: chat(model),
        prompt: 'Name the capital of Norway in one sentence.',
      });
      await result.consumeStream();
    },
    json: (options) =>
      generateText({
        ...options,
        model: chat(model),
        prompt: 'Return the capital of Norway as JSON.',
        output: Output.object({
          name: 'capital',
          schema: jsonSchema({
            type: 'object',
            properties: { city: { type: 'string' }, country: { type: 'string' } },
            required: ['city', 'country'],
            additionalProperties: false,
          }),
        }),
      }),
    /** The tool round trip through the Responses API (`provider.responses`). */
    responses: (options) =>
      generateText({
        ...options,
        model: provider.responses(model),
        system,
        prompt: 'What is the weather in Oslo right now?',
        tools: { get_weather: getWeather },
        toolChoice: 'auto',
        stopWhen: stepCountIs(2),
      }),
    /** One text embedded, then two at once: one provider request each. */
    embed: async (options) => {
      const embedder = provider.embedding(embeddingModel);
      await embed({ ...options, model: embedder, value: 'Oslo' });
      await embedMany({ ...options, model: embedder, values: ['Oslo', 'Bergen'] });
    },
    error: async (options) => {
      try {
        await generateText({
          ...options,
          model: chat('fail-500'),
          prompt: 'This call fails.',
          maxRetries: 0,
        });
      } catch (error) {
        if (error?.statusCode !== 500) throw error;
      }
    },
  };

  const handler = tracer('travel-agent');
  const chosen = captureContent() ? Object.entries(scenarios) : [['capture-off', scenarios.chat]];
  const traces = {};
  for (const [name, run] of chosen) {
    traces[name] = await inSpan(
      handler,
      'POST /api/chat',
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': 'POST', 'http.route': '/api/chat' },
      },
      async (span) => {
        await run(telemetry(name));
        return span.spanContext().traceId;
      },
    );
  }
  return traces;
}
