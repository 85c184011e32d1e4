import { fromJson, type JsonValue } from '@bufbuild/protobuf';
import { StructuralSignatureSchema } from '@understudy/contracts';
import type { SignatureFacts } from '../domain/discovery/structure.js';

/** The facts discovery reads from a stored signature (proto JSON). */
export function signatureFactsOf(json: unknown): SignatureFacts {
  const signature = fromJson(StructuralSignatureSchema, json as JsonValue);
  return {
    digest: signature.digest,
    agentName: signature.agentName,
    stepName: signature.stepName,
    operation: signature.operation,
    toolNames: signature.toolNames,
    responseFormat: signature.responseFormat,
    responseSchemaHash: signature.responseSchemaHash,
  };
}
