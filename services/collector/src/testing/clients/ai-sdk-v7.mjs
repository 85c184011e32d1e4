// An agent built on the Vercel AI SDK 7 with the @ai-sdk/otel integration registered: the
// SDK's `invoke_agent`, `chat` and `execute_tool` spans in the GenAI semconv attribute form.
import { OpenTelemetry } from '@ai-sdk/otel';
import * as ai from 'ai-v7';
import { createOpenAI } from 'ai-sdk-openai-v4';
import { functionId, runAiSdkScenarios } from './ai-sdk-scenarios.mjs';
import { captureContent, finish, startTelemetry } from './telemetry.mjs';

const sdk = startTelemetry([]);
ai.registerTelemetry(new OpenTelemetry({ agentSpanName: 'functionId' }));
const record = captureContent();
const traces = await runAiSdkScenarios({
  ai,
  createOpenAI,
  telemetry: (scenario) => ({
    runtimeContext: { conversationId: `conversation-${scenario}`, userTier: 'pro' },
    telemetry: {
      recordInputs: record,
      recordOutputs: record,
      functionId,
      includeRuntimeContext: { conversationId: true, userTier: true },
    },
  }),
});
await finish(sdk, traces);
