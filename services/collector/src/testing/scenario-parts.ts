import { answers } from './fake-openai.js';

/**
 * What the client programs' agent says and is answered (testing/clients/*-scenarios), as the
 * parts a captured call holds: what the recorded-fixture tests expect of every library.
 */
export const model = 'gpt-4o-mini';
export const system = 'You are a concise travel assistant.';
export const question = 'What is the capital of Norway?';
export const weatherQuestion = 'What is the weather in Oslo right now?';
export const weatherReport = '{"temperature_c":12,"conditions":"cloudy"}';
export const { toolCall } = answers.toolCall;

export const textPart = (value: string) => ({ kind: { case: 'text', value: { text: value } } });
export const toolCallPart = { kind: { case: 'toolCall', value: toolCall } };
export const reasoningPart = {
  kind: { case: 'reasoning', value: { text: answers.reasoning.summary } },
};
export const toolResultPart = {
  kind: { case: 'toolCallResponse', value: { id: toolCall.id, response: weatherReport } },
};
