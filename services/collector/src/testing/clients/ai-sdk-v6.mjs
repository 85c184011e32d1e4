// An agent built on the Vercel AI SDK 6 with `experimental_telemetry` on: the SDK's own
// `ai.*` spans (`ai.generateText`, `ai.generateText.doGenerate`, `ai.streamText.doStream`,
// `ai.toolCall`), through the global tracer provider.
import { createOpenAI } from '@ai-sdk/openai';
import * as ai from 'ai';
import { functionId, runAiSdkScenarios } from './ai-sdk-scenarios.mjs';
import { captureContent, finish, startTelemetry } from './telemetry.mjs';

const sdk = startTelemetry([]);
const record = captureContent();
const traces = await runAiSdkScenarios({
  ai,
  createOpenAI,
  telemetry: (scenario) => ({
    experimental_telemetry: {
      isEnabled: true,
      recordInputs: record,
      recordOutputs: record,
      functionId,
      metadata: { conversationId: `conversation-${scenario}`, userTier: 'pro' },
    },
  }),
});
await finish(sdk, traces);
