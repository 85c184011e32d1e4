import type { JsonObject, JsonValue, MessageInitShape } from '@bufbuild/protobuf';
import {
  FinishReason,
  Modality,
  ResponseFormatType,
  Role,
  type ChatMessageSchema,
  type MessagePartSchema,
  type ResponseFormatSchema,
  type ToolDefinitionSchema,
} from '@understudy/contracts';
import { isObject, structured, text, type Value, type ValueObject } from '../attributes.js';
import type { MapContext } from './mapper.js';

type PartInit = MessageInitShape<typeof MessagePartSchema>;
type MessageInit = MessageInitShape<typeof ChatMessageSchema>;
type ToolInit = MessageInitShape<typeof ToolDefinitionSchema>;

const roles: Record<string, Role> = {
  system: Role.SYSTEM,
  developer: Role.DEVELOPER,
  user: Role.USER,
  assistant: Role.ASSISTANT,
  tool: Role.TOOL,
};

const finishReasons: Record<string, FinishReason> = {
  stop: FinishReason.STOP,
  end_turn: FinishReason.STOP,
  length: FinishReason.LENGTH,
  max_tokens: FinishReason.LENGTH,
  tool_call: FinishReason.TOOL_CALLS,
  tool_calls: FinishReason.TOOL_CALLS,
  tool_use: FinishReason.TOOL_CALLS,
  // OpenAI's reason for the deprecated function call.
  function_call: FinishReason.TOOL_CALLS,
  content_filter: FinishReason.CONTENT_FILTER,
  error: FinishReason.ERROR,
};

const modalities: Record<string, Modality> = {
  image: Modality.IMAGE,
  audio: Modality.AUDIO,
  video: Modality.VIDEO,
  document: Modality.DOCUMENT,
};

/** A table lookup of untrusted text, blind to what objects inherit (`constructor`…). */
export function lookup<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

export function finishReasonOf(reason: string | undefined): FinishReason {
  if (reason === undefined || reason === '') return FinishReason.UNSPECIFIED;
  // The Vercel AI SDK spells them with hyphens (`tool-calls`, `content-filter`).
  return lookup(finishReasons, reason.toLowerCase().replaceAll('-', '_')) ?? FinishReason.OTHER;
}

/**
 * How deep structured data is kept. protobuf decodes a google.protobuf.Struct at most 100
 * messages deep, two per JSON level (a Value and its Struct or ListValue), and the call's own
 * messages around it take some; JSON text is built recursively. No real tool schema, content
 * block or argument is nested anywhere near as deep: deeper levels are garbage, left out (null)
 * rather than failing the call.
 */
const structDepth = 32;
const textDepth = 512;

/** Plain data as JSON, bytes as base64, numbers JSON has no form for as null. */
function jsonOf(value: Value, depth: number): JsonValue {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (value === null || typeof value !== 'object') return value;
  if (depth === 0) return null;
  if (Array.isArray(value)) return value.map((item) => jsonOf(item, depth - 1));
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, jsonOf(item, depth - 1)]),
  );
}

/** Plain data as a google.protobuf.Struct. */
export function struct(value: ValueObject): JsonObject {
  return jsonOf(value, structDepth) as JsonObject;
}

/** Tool arguments and results are kept as text: JSON text for structured values. */
export function asText(value: Value | undefined): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(jsonOf(value, textDepth));
}

/** What a media type says about the content: anything but images, audio and video is a document. */
export function modalityOf(mimeType: string): Modality {
  const type = mimeType.split('/')[0]?.trim().toLowerCase() ?? '';
  if (type === '') return Modality.UNSPECIFIED;
  return lookup(modalities, type) ?? Modality.DOCUMENT;
}

/**
 * Inline bytes as a media part. They go to the object store through the context, so the part
 * only refers to them: content travels by reference, never inline.
 */
export function storedMedia(
  bytes: Uint8Array,
  mimeType: string,
  modality: Modality,
  context: MapContext,
): PartInit {
  // Nothing to store when the source dropped the bytes (content capture off, truncation).
  const location =
    bytes.length > 0
      ? { case: 'object' as const, value: context.blob(bytes, mimeType) }
      : undefined;
  return { kind: { case: 'media', value: { modality, mimeType, ...(location && { location }) } } };
}

/** `data:image/png;base64,…` as its media type and bytes; undefined for any other URL. */
function base64DataUrl(url: string): { mimeType: string; bytes: Uint8Array } | undefined {
  const match = /^data:([^,]*),/i.exec(url);
  const [mimeType = '', ...flags] = match?.[1]?.split(';') ?? [];
  if (match === null || !flags.some((flag) => flag.trim().toLowerCase() === 'base64')) {
    return undefined;
  }
  return { mimeType, bytes: new Uint8Array(Buffer.from(url.slice(match[0].length), 'base64')) };
}

/** Media at a URL; a base64 `data:` URL is inline content, so it is stored like a blob. */
export function mediaAt(
  url: string,
  mimeType: string,
  context: MapContext,
  modality?: Modality,
): PartInit {
  const inline = base64DataUrl(url);
  if (inline !== undefined) {
    const type = mimeType || inline.mimeType;
    return storedMedia(inline.bytes, type, modality ?? modalityOf(type), context);
  }
  const location = { case: 'uri' as const, value: url };
  return {
    kind: {
      case: 'media',
      value: { modality: modality ?? modalityOf(mimeType), mimeType, location },
    },
  };
}

/** Media given as a URL, as base64 text or as bytes, as SDKs pass images and files. */
export function mediaOfData(
  data: string | Uint8Array,
  mimeType: string,
  context: MapContext,
  modality?: Modality,
): PartInit {
  if (typeof data === 'string' && /^[a-z][a-z0-9+.-]*:/i.test(data)) {
    return mediaAt(data, mimeType, context, modality);
  }
  const bytes = typeof data === 'string' ? new Uint8Array(Buffer.from(data, 'base64')) : data;
  return storedMedia(bytes, mimeType, modality ?? modalityOf(mimeType), context);
}

function mediaOf(type: string, part: ValueObject, context: MapContext): PartInit {
  const mimeType = text(part['mime_type']) ?? '';
  const modality =
    lookup(modalities, text(part['modality'])?.toLowerCase() ?? '') ?? modalityOf(mimeType);
  const content = part['content'];
  const uri = text(part['uri']);
  const fileId = text(part['file_id']);
  if (type === 'blob' && (typeof content === 'string' || content instanceof Uint8Array)) {
    return mediaOfData(content, mimeType, context, modality);
  }
  if (uri !== undefined) return mediaAt(uri, mimeType, context, modality);
  const location = fileId === undefined ? undefined : { case: 'fileId' as const, value: fileId };
  return { kind: { case: 'media', value: { modality, mimeType, ...(location && { location }) } } };
}

/**
 * Reasoning text. The Responses API gives a reasoning item as a list of summary (and content)
 * blocks `{type: summary_text | reasoning_text, text}`; OpenLLMetry's Python instrumentation
 * writes that list as the part's JSON text: its texts are the reasoning.
 */
function reasoningText(content: Value | undefined): string {
  const blocks =
    typeof content === 'string' && content.startsWith('[') ? structured(content) : content;
  if (Array.isArray(blocks) && blocks.length > 0 && blocks.every(isObject)) {
    return blocks.map((block) => text(block['text']) ?? '').join('\n');
  }
  return asText(content);
}

/**
 * The id of a tool call, or of the call a result answers. Responses API items have two: the
 * item's own `id` and the `call_id` that the function_call_output repeats; the latter is the one
 * a result is matched by, so instrumentations that copy both have it win.
 */
const callIdOf = (part: ValueObject) => text(part['call_id']) ?? text(part['id']) ?? '';

/**
 * The keys that hold what each part type says, semconv's first. The OTel JS instrumentation
 * writes the Responses API's reasoning as `text` and a refusal as `refusal`.
 */
const contentKeys: Readonly<Record<string, readonly string[]>> = {
  text: ['content'],
  reasoning: ['content', 'text'],
  refusal: ['content', 'refusal'],
  tool_call: ['arguments'],
  tool_call_response: ['response', 'result'],
};

/** What a part says, under the first of its type's content keys that holds anything. */
function said(part: ValueObject, type: string): Value | undefined {
  const keys = lookup(contentKeys, type) ?? [];
  return keys.map((key) => part[key]).find((value) => value !== undefined && value !== null);
}

export function partOf(part: Value, context: MapContext): PartInit {
  if (typeof part === 'string') return { kind: { case: 'text', value: { text: part } } };
  if (!isObject(part)) return { kind: { case: 'other', value: { type: 'unknown' } } };
  const type = text(part['type']) ?? '';
  const content = said(part, type);
  switch (type) {
    case 'text':
      return { kind: { case: 'text', value: { text: text(content) ?? '' } } };
    case 'reasoning':
      return { kind: { case: 'reasoning', value: { text: reasoningText(content) } } };
    case 'refusal':
      return { kind: { case: 'refusal', value: { text: text(content) ?? '' } } };
    case 'tool_call':
      return {
        kind: {
          case: 'toolCall',
          value: {
            id: callIdOf(part),
            name: text(part['name']) ?? '',
            arguments: asText(content),
          },
        },
      };
    case 'tool_call_response':
      return {
        kind: {
          case: 'toolCallResponse',
          value: { id: callIdOf(part), response: asText(content) },
        },
      };
    case 'blob':
    case 'uri':
    case 'file':
      return mediaOf(type, part, context);
    default: {
      const rest = Object.fromEntries(Object.entries(part).filter(([name]) => name !== 'type'));
      return { kind: { case: 'other', value: { type, content: struct(rest) } } };
    }
  }
}

/**
 * Whether a part is only the shape of content: with content capture off, some instrumentations
 * (the OTel JS one on Responses API calls) keep each part's type and ids but leave its content
 * out. Such a part says nothing; a message of them records no content, as an event without a
 * body does.
 */
function contentless(part: Value): boolean {
  if (!isObject(part)) return false;
  const type = text(part['type']) ?? '';
  return lookup(contentKeys, type) !== undefined && said(part, type) === undefined;
}

export function partsOf(parts: Value | undefined, context: MapContext): PartInit[] {
  if (typeof parts === 'string') return [partOf(parts, context)];
  if (!Array.isArray(parts)) return [];
  return parts.filter((part) => !contentless(part)).map((part) => partOf(part, context));
}

/**
 * `gen_ai.system_instructions`: parts, as JSON text or structured, or bare text, as the OTel JS
 * instrumentation writes the Responses API's `instructions`.
 */
export function instructionsOf(value: Value | undefined, context: MapContext): PartInit[] {
  if (value === undefined || value === null) return [];
  return partsOf(structured(value) ?? value, context);
}

export function roleOf(role: string | undefined): Role {
  return lookup(roles, role?.toLowerCase() ?? '') ?? Role.UNSPECIFIED;
}

/**
 * A message answering tool calls is the tool's, whatever the source called it: the OTel JS
 * instrumentation gives the Responses API's `function_call_output` items the user's role.
 */
function answeringRole(role: Role, parts: readonly PartInit[]): Role {
  const answers = parts.length > 0 && parts.every((part) => part.kind?.case === 'toolCallResponse');
  return role === Role.USER && answers ? Role.TOOL : role;
}

export function messageOf(message: Value, context: MapContext): MessageInit {
  if (!isObject(message)) return { parts: partsOf(message, context) };
  const parts = partsOf(message['parts'] ?? message['content'], context);
  return {
    role: answeringRole(roleOf(text(message['role'])), parts),
    name: text(message['name']) ?? '',
    parts,
    finishReason: finishReasonOf(text(message['finish_reason'])),
  };
}

export function messagesOf(
  messages: Value | undefined,
  context: MapContext,
): MessageInit[] | undefined {
  return Array.isArray(messages)
    ? messages.map((message) => messageOf(message, context))
    : undefined;
}

/**
 * Semconv's flat `{type, name, description, parameters}`, OpenAI's `{type, function: {…}}`, the
 * Vercel AI SDK's `{type, name, description, inputSchema}` or Anthropic's `{name, input_schema}`.
 */
export function toolOf(tool: Value): ToolInit | undefined {
  if (!isObject(tool)) return undefined;
  const fn = isObject(tool['function']) ? tool['function'] : tool;
  const parameters = fn['parameters'] ?? fn['inputSchema'] ?? fn['input_schema'];
  return {
    type: text(tool['type']) ?? 'function',
    name: text(fn['name']) ?? '',
    description: text(fn['description']) ?? '',
    ...(isObject(parameters) && { parameters: struct(parameters) }),
  };
}

export function toolsOf(tools: Value | undefined): ToolInit[] | undefined {
  if (!Array.isArray(tools)) return undefined;
  return tools.map(toolOf).filter((tool) => tool !== undefined);
}

// Provider-native request shapes, which OpenInference and OpenLLMetry pass on as the SDK got them.

const responseFormatTypes: Readonly<Record<string, ResponseFormatType>> = {
  text: ResponseFormatType.TEXT,
  json_object: ResponseFormatType.JSON_OBJECT,
  json_schema: ResponseFormatType.JSON_SCHEMA,
};

/**
 * OpenAI's `response_format` (`{type, json_schema: {name, schema}}`), or the flat form of the
 * Responses API's `text.format` (`{type, name, schema}`).
 */
export function responseFormatOf(
  format: Value | undefined,
): MessageInitShape<typeof ResponseFormatSchema> | undefined {
  if (!isObject(format)) return undefined;
  const type = lookup(responseFormatTypes, text(format['type']) ?? '');
  if (type === undefined) return undefined;
  const named = isObject(format['json_schema']) ? format['json_schema'] : format;
  const schema = named['schema'];
  return {
    type,
    schemaName: text(named['name']) ?? '',
    ...(isObject(schema) && { jsonSchema: struct(schema) }),
  };
}

/**
 * `auto`, `none`, `required` or the one tool's name, from OpenAI's `tool_choice` (text,
 * `{type: 'function', function: {name}}`, the Responses API's `{type: 'function', name}`) or
 * Anthropic's (`{type: 'auto' | 'any' | 'none'}`, `{type: 'tool', name}`).
 */
export function toolChoiceOf(choice: Value | undefined): string {
  if (typeof choice === 'string') return choice;
  if (!isObject(choice)) return '';
  const fn = isObject(choice['function']) ? choice['function'] : choice;
  const name = text(fn['name']);
  if (name !== undefined) return name;
  const type = text(choice['type']) ?? '';
  return type === 'any' ? 'required' : type;
}

const textOf = (value: string): PartInit => ({ kind: { case: 'text', value: { text: value } } });

/** A tool result's text: Anthropic and OpenAI also allow a list of text blocks. */
function resultText(content: Value | undefined): string {
  if (Array.isArray(content) && content.every((block) => isObject(block) && 'text' in block)) {
    return content.map((block) => (isObject(block) ? (text(block['text']) ?? '') : '')).join('');
  }
  return asText(content);
}

/** Anthropic's `source` of an image or document: base64 data, a URL or an uploaded file. */
function sourcedMedia(source: ValueObject, modality: Modality, context: MapContext): PartInit {
  const mimeType = text(source['media_type']) ?? '';
  const data = text(source['data']);
  const url = text(source['url']);
  const fileId = text(source['file_id']);
  if (data !== undefined) return mediaOfData(data, mimeType, context, modality);
  if (url !== undefined) return mediaAt(url, mimeType, context, modality);
  const location = fileId === undefined ? undefined : { case: 'fileId' as const, value: fileId };
  return { kind: { case: 'media', value: { modality, mimeType, ...(location && { location }) } } };
}

/** An OpenAI file: uploaded (`file_id`), inline (`file_data`) or at a URL (`file_url`). */
function fileMedia(file: ValueObject, block: ValueObject, context: MapContext): PartInit {
  const fileId = text(file['file_id']);
  const data = text(file['file_data']) ?? text(file['file_url']);
  if (fileId !== undefined) {
    const location = { case: 'fileId' as const, value: fileId };
    return { kind: { case: 'media', value: { modality: Modality.DOCUMENT, location } } };
  }
  return data === undefined ? partOf(block, context) : mediaAt(data, '', context);
}

/**
 * One content block of a provider's request or response: OpenAI's (`text`, `image_url`,
 * `input_audio`, `file`, `refusal`, the Responses API's `input_text`/`output_text`/
 * `input_image`/`input_file`) or Anthropic's (`text`, `image`, `document`, `tool_use`, `tool_result`,
 * `thinking`). Anything else is read as a semconv part.
 */
export function nativePartOf(block: Value, context: MapContext): PartInit {
  if (!isObject(block)) return partOf(block, context);
  const nested = (key: string) => (isObject(block[key]) ? block[key] : {});
  switch (text(block['type']) ?? '') {
    case 'text':
    case 'input_text':
    case 'output_text':
      return textOf(text(block['text']) ?? text(block['content']) ?? '');
    case 'refusal':
      return { kind: { case: 'refusal', value: { text: text(block['refusal']) ?? '' } } };
    case 'thinking':
      return { kind: { case: 'reasoning', value: { text: text(block['thinking']) ?? '' } } };
    case 'image_url':
    case 'input_image': {
      const url = text(nested('image_url')['url']) ?? text(block['image_url']);
      return url === undefined ? partOf(block, context) : mediaAt(url, '', context, Modality.IMAGE);
    }
    case 'input_audio': {
      const audio = nested('input_audio');
      const format = text(audio['format']);
      const mimeType = format === undefined ? '' : `audio/${format}`;
      return mediaOfData(text(audio['data']) ?? '', mimeType, context, Modality.AUDIO);
    }
    case 'file': {
      // OpenAI's `{file: {file_id | file_data}}`; semconv's flat `file` part otherwise.
      const file = nested('file');
      return 'file' in block ? fileMedia(file, block, context) : partOf(block, context);
    }
    case 'input_file':
      // The Responses API's flat `{file_id | file_data | file_url}`.
      return fileMedia(block, block, context);
    case 'image':
      return sourcedMedia(nested('source'), Modality.IMAGE, context);
    case 'document':
      return sourcedMedia(nested('source'), Modality.DOCUMENT, context);
    case 'tool_use': {
      const value = {
        id: text(block['id']) ?? '',
        name: text(block['name']) ?? '',
        arguments: asText(block['input']),
      };
      return { kind: { case: 'toolCall', value } };
    }
    case 'tool_result': {
      const value = {
        id: text(block['tool_use_id']) ?? '',
        response: resultText(block['content']),
      };
      return { kind: { case: 'toolCallResponse', value } };
    }
    default:
      return partOf(block, context);
  }
}
