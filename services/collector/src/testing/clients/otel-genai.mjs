// An agent instrumented with @opentelemetry/instrumentation-openai: GenAI semconv 1.36 spans
// for the calls, message content as log-record events, and the agent's own `invoke_agent` and
// `execute_tool` spans around them.
import { SpanKind } from '@opentelemetry/api';
import { OpenAIInstrumentation } from '@opentelemetry/instrumentation-openai';
import { openAiClient, runScenarios } from './openai-scenarios.mjs';
import { captureContent, finish, inSpan, startTelemetry, tracer } from './telemetry.mjs';

// The instrumentation's documented switch, as an operator would set it.
process.env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT = String(captureContent());
const sdk = startTelemetry([new OpenAIInstrumentation()]);
const { client } = openAiClient();
const agent = tracer('travel-agent');

const traces = await runScenarios(client, {
  scenario: (name, run) =>
    inSpan(
      agent,
      'invoke_agent travel-agent',
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          'gen_ai.operation.name': 'invoke_agent',
          'gen_ai.provider.name': 'openai',
          'gen_ai.agent.id': 'agent-travel-1',
          'gen_ai.agent.name': 'travel-agent',
          'gen_ai.conversation.id': `conversation-${name}`,
        },
      },
      async (span) => {
        await run();
        return span.spanContext().traceId;
      },
    ),
  tool: (call, execute) =>
    inSpan(
      agent,
      `execute_tool ${call.function.name}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          'gen_ai.operation.name': 'execute_tool',
          'gen_ai.tool.name': call.function.name,
          'gen_ai.tool.call.id': call.id,
          'gen_ai.tool.type': 'function',
        },
      },
      execute,
    ),
});
await finish(sdk, traces);
