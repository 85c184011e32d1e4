import { lookup } from './genai-content.js';

/**
 * Provider names other than semconv's `gen_ai.provider.name` values, as OpenInference
 * (`llm.provider`, `llm.system`) and older OpenLLMetry releases (`gen_ai.system`: `AWS`,
 * `Azure`, `MistralAI`…) write them, by their lowercase form.
 */
const aliases: Readonly<Record<string, string>> = {
  aws: 'aws.bedrock',
  bedrock: 'aws.bedrock',
  amazon: 'aws.bedrock',
  azure: 'azure.ai.openai',
  'az.ai.openai': 'azure.ai.openai',
  google: 'gcp.gen_ai',
  vertexai: 'gcp.vertex_ai',
  vertex_ai: 'gcp.vertex_ai',
  gemini: 'gcp.gemini',
  mistralai: 'mistral_ai',
  xai: 'x_ai',
  watsonx: 'ibm.watsonx.ai',
  together: 'together_ai',
  togetherai: 'together_ai',
  huggingface: 'hugging_face',
  alephalpha: 'aleph_alpha',
};

/** A provider as semconv names it (`openai`, `anthropic`, `aws.bedrock`…); others lowercased. */
export function providerName(name: string): string {
  const lower = name.trim().toLowerCase();
  return lookup(aliases, lower) ?? lower;
}
