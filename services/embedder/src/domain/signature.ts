import { create } from '@bufbuild/protobuf';
import {
  ResponseFormatType,
  StructuralSignatureSchema,
  type CallContent,
  type LlmCall,
  type StructuralSignature,
} from '@understudy/contracts';
import { systemText } from './content.js';
import { canonicalJson, sha256Hex } from './hashing.js';

/** Bump when the canonical form changes: digests of different versions never compare equal. */
export const signatureVersion = 2;

const months =
  'Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?';
const weekdays = '(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day';

/**
 * Variable spans of a prompt template, most specific first. What remains after masking is the
 * template text that every call of one prompt shares.
 */
const variableSpans: readonly (readonly [RegExp, string])[] = [
  // Material pasted into the instructions (retrieved documents, code, data) varies per call.
  [/```[\s\S]*?```/gu, '<block>'],
  [/<([A-Za-z][\w-]*)>[\s\S]{200,}?<\/\1>/gu, '<$1><block></$1>'],
  [/\bhttps?:\/\/[^\s<>"'`]+/giu, '<url>'],
  [/[\p{L}\p{N}._%+-]+@[\p{L}\p{N}.-]+\.\p{L}{2,}/gu, '<email>'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/giu, '<uuid>'],
  // Today's date and time, written out: "Tuesday, 5 November 2024", "Nov 5, 10:30 AM".
  [new RegExp(`\\b${weekdays}\\b`, 'gu'), '<date>'],
  [
    new RegExp(`\\b(?:${months})\\b\\.?(?=\\s*\\d)|(?<=\\d\\s*)\\b(?:${months})\\b\\.?`, 'gu'),
    '<date>',
  ],
  [/\b\d{1,2}(?::\d{2}){1,2}\s*[ap]\.?m\b\.?/giu, '<time>'],
  // Quotes only where they open after a non-word character, so apostrophes are left alone.
  [/(?<![\p{L}\p{N}])(["'`“‘«])[^\n"'`”’»]{0,500}["'`”’»](?![\p{L}\p{N}])/gu, '<quoted>'],
  [/(?<![\p{L}\p{N}_-])[-+]?\d+(?:[.,:/]\d+)*(?![\p{L}\p{N}_-])/gu, '<number>'],
  // Whatever still mixes in a digit is an identifier: INV-2024-001, user_42, a3f9c0.
  [/[\p{L}\p{N}_-]*\d[\p{L}\p{N}_-]*/gu, '<id>'],
];

/** The template of `text`: its variable spans replaced by placeholders, whitespace collapsed. */
export function maskVariables(text: string): string {
  return variableSpans
    .reduce((masked, [pattern, placeholder]) => masked.replace(pattern, placeholder), text)
    .replace(/\s+/gu, ' ')
    .trim();
}

/**
 * The call's shape: where in the agent it was made, what operation, which template, which
 * tools, which output format. The agent falls back to the calling service's name, so that two
 * services using one template do not share a signature. `content` is the call's content, opened
 * when it travelled encrypted.
 */
export function structuralSignature(
  call: LlmCall,
  content: CallContent | undefined,
): StructuralSignature {
  const context = call.context;
  const system = content === undefined ? '' : maskVariables(systemText(content));
  const format = call.parameters?.responseFormat;
  const fields = {
    version: signatureVersion,
    agentName: context?.agentName || context?.serviceName || '',
    stepName: context?.stepName ?? '',
    operation: call.operation,
    systemTemplateHash: system === '' ? '' : sha256Hex(system),
    toolNames: [...new Set(content?.toolDefinitions.map((tool) => tool.name) ?? [])].sort(),
    responseFormat: format?.type ?? ResponseFormatType.UNSPECIFIED,
    responseSchemaHash:
      format?.type === ResponseFormatType.JSON_SCHEMA && format.jsonSchema !== undefined
        ? sha256Hex(canonicalJson(format.jsonSchema))
        : '',
  };
  return create(StructuralSignatureSchema, { ...fields, digest: sha256Hex(canonicalJson(fields)) });
}
