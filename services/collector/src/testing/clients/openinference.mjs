// An agent instrumented with @arizeai/openinference-instrumentation-openai: LLM spans with
// `llm.*` attributes, inside the AGENT, CHAIN and TOOL spans that OpenInference's helpers open,
// with the session and metadata set on the context as OpenInference documents.
import {
  OITracer,
  setMetadata,
  setSession,
  traceAgent,
  traceChain,
  traceTool,
} from '@arizeai/openinference-core';
import { OpenAIInstrumentation } from '@arizeai/openinference-instrumentation-openai';
import { context, trace } from '@opentelemetry/api';
import { openAiClient, runScenarios } from './openai-scenarios.mjs';
import { captureContent, finish, startTelemetry } from './telemetry.mjs';

// OpenInference records content unless told to hide it, and each tracer applies only the trace
// config it was given: the instrumentation and the agent's own spans both get it.
const hide = !captureContent();
const traceConfig = { hideInputs: hide, hideOutputs: hide };
const sdk = startTelemetry([new OpenAIInstrumentation({ traceConfig })]);
const tracer = new OITracer({ tracer: trace.getTracer('travel-agent'), traceConfig });
const { client } = openAiClient();

const traces = await runScenarios(client, {
  scenario: (name, run) => {
    const session = setSession(context.active(), { sessionId: `conversation-${name}` });
    let traceId;
    const agent = traceAgent(
      async () => {
        traceId = trace.getActiveSpan().spanContext().traceId;
        await traceChain(run, { name, tracer })();
      },
      { name: 'travel-agent', tracer },
    );
    return context.with(setMetadata(session, { user_tier: 'pro' }), agent).then(() => traceId);
  },
  // The tool's input is its arguments, as the model produced them.
  tool: (call, execute) =>
    traceTool((_args) => execute(), { name: call.function.name, tracer })(call.function.arguments),
});
await finish(sdk, traces);
