import { create } from '@bufbuild/protobuf';
import { OutputShapeSchema, type CallContent, type OutputShape } from '@understudy/contracts';
import { normalizeText } from './featurizer.js';
import { canonicalJson, sha256Hex } from './hashing.js';

/** A Markdown code fence around the whole answer, as chat models often put JSON in one. */
const fence = /^```(?:json)?([\s\S]*)```$/iu;

/**
 * The form of the call's answer, from its first choice: whether it is a JSON document, whether it
 * calls tools, and a digest under which equal answers coincide whatever their whitespace, case or
 * key order. Absent when the call carries no content or no answer.
 */
export function outputShape(content: CallContent | undefined): OutputShape | undefined {
  const first = content?.outputMessages[0];
  if (content === undefined || first === undefined) return undefined;
  // Streamed answers arrive as several text parts of one text.
  const text = first.parts
    .map((part) => (part.kind.case === 'text' ? part.kind.value.text : ''))
    .join('');
  const toolCalls = first.parts.flatMap((part) =>
    part.kind.case === 'toolCall' ? [part.kind.value] : [],
  );
  const document = jsonDocument(text);
  const canonical = {
    answer: document ?? normalizeText(text),
    toolCalls: toolCalls.map(({ name, arguments: args }) => {
      const value = parseJson(args);
      return { name, arguments: value === undefined ? args.trim() : value };
    }),
  };
  return create(OutputShapeSchema, {
    json: document !== undefined,
    toolCall: toolCalls.length > 0,
    digest: sha256Hex(canonicalJson(canonical)),
    choices: content.outputMessages.length,
  });
}

/** The text as a JSON object or array, fenced or not; undefined when it is anything else. */
function jsonDocument(text: string): object | undefined {
  const trimmed = text.trim();
  const value = parseJson(fence.exec(trimmed)?.[1] ?? trimmed);
  return typeof value === 'object' && value !== null ? value : undefined;
}

/** `text` parsed as JSON; undefined when it does not parse. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
