// An agent instrumented with @traceloop/instrumentation-openai (OpenLLMetry), inside the
// workflow, task and tool spans that Traceloop's SDK opens (`withWorkflow`, `withTask`,
// `withTool`). `node traceloop.mjs legacy` uses 0.22.5, the last release with the flattened
// `gen_ai.prompt.N.*` attributes; without it, the current release and its JSON messages.
import { context, createContextKey, SpanKind } from '@opentelemetry/api';
import { OpenAIInstrumentation as Current } from '@traceloop/instrumentation-openai';
import { OpenAIInstrumentation as Legacy } from 'traceloop-instrumentation-openai-legacy';
import { openAiClient, runScenarios } from './openai-scenarios.mjs';
import { captureContent, finish, inSpan, startTelemetry, tracer } from './telemetry.mjs';

const legacy = process.argv[2] === 'legacy';
const workflowName = 'trip-planner';
const Instrumentation = legacy ? Legacy : Current;
const instrumentation = new Instrumentation({ traceContent: captureContent() });
const sdk = startTelemetry([instrumentation]);
const { OpenAI, client } = openAiClient();
// 0.22.5 declares support for openai < 6 only; its documented manual hook still works on 6.
if (legacy) instrumentation.manuallyInstrument(OpenAI);

const sdkTracer = tracer('@traceloop/node-server-sdk');
// Traceloop's SDK stamps the association properties of the current context on every span.
const associationKey = createContextKey('traceloop.association.properties');

function entity(kind, name, attributes, run) {
  const properties = context.active().getValue(associationKey) ?? {};
  return inSpan(
    sdkTracer,
    `${name}.${kind}`,
    {
      kind: SpanKind.INTERNAL,
      attributes: {
        'traceloop.span.kind': kind,
        'traceloop.workflow.name': workflowName,
        'traceloop.entity.name': name,
        ...Object.fromEntries(
          Object.entries(properties).map(([key, value]) => [
            `traceloop.association.properties.${key}`,
            value,
          ]),
        ),
        ...attributes,
      },
    },
    run,
  );
}

const traces = await runScenarios(client, {
  scenario: (name, run) => {
    const properties = { session_id: `conversation-${name}`, user_id: 'user-7' };
    return context.with(context.active().setValue(associationKey, properties), () =>
      entity('workflow', workflowName, {}, (workflow) =>
        entity('task', name, {}, async () => {
          await run();
          return workflow.spanContext().traceId;
        }),
      ),
    );
  },
  tool: (call, execute) =>
    entity(
      'tool',
      call.function.name,
      { 'traceloop.entity.input': JSON.stringify({ args: [call.function.arguments] }) },
      async (span) => {
        const output = await execute();
        span.setAttribute('traceloop.entity.output', output);
        return output;
      },
    ),
});
await finish(sdk, traces);
