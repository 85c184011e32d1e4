import { ResponseFormatType, type StructuralSignature } from '@understudy/contracts';

/** The parts of a call's structural signature that task discovery reads. */
export type SignatureFacts = Pick<
  StructuralSignature,
  | 'digest'
  | 'agentName'
  | 'stepName'
  | 'operation'
  | 'toolNames'
  | 'responseFormat'
  | 'responseSchemaHash'
>;

/**
 * The call's contract with the model: operation, tools offered and output format, but not the
 * prompt's wording nor who calls. Calls of different structure are never one task (a different
 * output contract is a different thing to learn); calls of one structure from different templates
 * can be, when their content matches (a paraphrased prompt, a second team doing the same job).
 */
export function structureKey(signature: SignatureFacts): string {
  return JSON.stringify([
    signature.operation,
    [...signature.toolNames].sort(),
    signature.responseFormat,
    signature.responseSchemaHash,
  ]);
}

/**
 * Where in an agent a call is made, whatever its template or tools: calls without content (no
 * tools, no template known) find their task through a sibling signature with the same key.
 */
export function placeKey(signature: SignatureFacts): string {
  return JSON.stringify([
    signature.agentName,
    signature.stepName,
    signature.operation,
    signature.responseFormat,
    signature.responseSchemaHash,
  ]);
}

/**
 * Whether one template may serve several jobs, so that content must split it. Input embeddings
 * alone cannot tell several jobs from one job's topical variety (a ticket router's billing and
 * delivery tickets are as far apart as an assistant's translations and SQL questions); the
 * call's structure can: a named workflow step does one job by design, and a demanded JSON output
 * fixes the job. What remains, free-text calls from no named step, is what general-purpose
 * assistants make.
 */
export function isOpenEnded(signature: SignatureFacts): boolean {
  return signature.stepName === '' && !isJsonDemanded(signature);
}

/** The caller demanded JSON output (an object, or one following a schema). */
export function isJsonDemanded(signature: Pick<SignatureFacts, 'responseFormat'>): boolean {
  return (
    signature.responseFormat === ResponseFormatType.JSON_OBJECT ||
    signature.responseFormat === ResponseFormatType.JSON_SCHEMA
  );
}
