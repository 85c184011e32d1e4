// The agent's conversations, made with the official `openai` client: the same requests for
// every instrumentation of that client, so that tests compare like with like. Each scenario
// runs inside the spans its ecosystem's agent frameworks would open (`hooks.scenario`) and
// executes tools inside tool spans (`hooks.tool`).
import { createRequire } from 'node:module';
import { captureContent, fakeOpenAiBaseUrl } from './telemetry.mjs';

export const model = 'gpt-4o-mini';
export const system = 'You are a concise travel assistant.';

export const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city.',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', description: 'City name' } },
      required: ['city'],
      additionalProperties: false,
    },
  },
};

/** The same tool as the Responses API takes it: flat, no `function` wrapper. */
export const weatherFunction = { type: 'function', ...weatherTool.function };

export const weatherReport = '{"temperature_c":12,"conditions":"cloudy"}';

const capitalSchema = {
  type: 'object',
  properties: { city: { type: 'string' }, country: { type: 'string' } },
  required: ['city', 'country'],
  additionalProperties: false,
};

/**
 * Loads `openai` through `require`, which the instrumentations hook (they patch CommonJS loads),
 * and makes a client of the fake server. Call after the telemetry has started. No retries, so
 * that the failing call is one request.
 */
export function openAiClient() {
  const { OpenAI } = createRequire(import.meta.url)('openai');
  return {
    OpenAI,
    client: new OpenAI({ baseURL: fakeOpenAiBaseUrl(), apiKey: 'sk-test', maxRetries: 0 }),
  };
}

const user = (content) => ({ role: 'user', content });

const scenarios = {
  /** A system message and a question, with every sampling parameter set. */
  chat: (openai) =>
    openai.chat.completions.create({
      model,
      messages: [{ role: 'system', content: system }, user('What is the capital of Norway?')],
      temperature: 0.2,
      top_p: 0.9,
      max_tokens: 64,
      stop: ['END'],
      seed: 42,
      presence_penalty: 0.1,
      frequency_penalty: 0.2,
    }),

  /** A tool round trip: the model calls the tool, the agent runs it, the model answers. */
  tools: async (openai, hooks) => {
    const messages = [user('What is the weather in Oslo right now?')];
    const first = await openai.chat.completions.create({
      model,
      messages,
      tools: [weatherTool],
      tool_choice: 'auto',
    });
    const request = first.choices[0].message;
    const call = request.tool_calls[0];
    const result = await hooks.tool(call, async () => weatherReport);
    await openai.chat.completions.create({
      model,
      messages: [...messages, request, { role: 'tool', tool_call_id: call.id, content: result }],
      tools: [weatherTool],
    });
  },

  /** A streamed answer, with the usage chunk requested. */
  stream: async (openai) => {
    const stream = await openai.chat.completions.create({
      model,
      messages: [user('Name the capital of Norway in one sentence.')],
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const _chunk of stream);
  },

  /** Structured output against a JSON schema. */
  json: (openai) =>
    openai.chat.completions.create({
      model,
      messages: [user('Return the capital of Norway as JSON.')],
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'capital', strict: true, schema: capitalSchema },
      },
    }),

  /**
   * The tool round trip through the Responses API: instructions apart, the model's reasoning
   * and function call as output items, which go back as input items with the call's output.
   */
  responses: async (openai, hooks) => {
    const input = [user('What is the weather in Oslo right now?')];
    const first = await openai.responses.create({
      model,
      instructions: system,
      input,
      tools: [weatherFunction],
      tool_choice: 'auto',
    });
    const call = first.output.find((item) => item.type === 'function_call');
    const result = await hooks.tool(
      { id: call.call_id, function: { name: call.name, arguments: call.arguments } },
      async () => weatherReport,
    );
    await openai.responses.create({
      model,
      instructions: system,
      input: [
        ...input,
        ...first.output,
        { type: 'function_call_output', call_id: call.call_id, output: result },
      ],
      tools: [weatherFunction],
    });
  },

  /** The provider fails with a 500; the agent carries on. */
  error: async (openai) => {
    try {
      await openai.chat.completions.create({
        model: 'fail-500',
        messages: [user('This call fails.')],
      });
    } catch (error) {
      if (error?.status !== 500) throw error;
    }
  },
};

/**
 * Runs every scenario, each in a trace of its own, and returns their trace ids by name. With
 * content capture off the agent makes only the plain chat call, as `capture-off`.
 */
export async function runScenarios(openai, hooks) {
  const chosen = captureContent() ? Object.entries(scenarios) : [['capture-off', scenarios.chat]];
  const traces = {};
  for (const [name, run] of chosen) {
    traces[name] = await hooks.scenario(name, () => run(openai, hooks));
  }
  return traces;
}
