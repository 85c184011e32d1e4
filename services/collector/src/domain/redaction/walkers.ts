import { create, type JsonObject, type JsonValue } from '@bufbuild/protobuf';
import {
  RedactionReportSchema,
  type CallContent,
  type LlmCall,
  type MessagePart,
  type StepFragment,
} from '@understudy/contracts';
import type { RedactionSession } from './redactor.js';

/*
 * Walkers apply a session to every free-text field of the contract messages, in place: the
 * messages were built by the mappers a moment ago and nothing else holds them, so copying
 * them would only cost time.
 */

function redactJson(value: JsonValue, session: RedactionSession): JsonValue {
  if (typeof value === 'string') return session.text(value);
  if (Array.isArray(value)) return value.map((item) => redactJson(item, session));
  if (typeof value === 'object' && value !== null) return redactObject(value, session);
  return value;
}

/** Values only: keys are the source's field names, not content. */
function redactObject(object: JsonObject, session: RedactionSession): JsonObject {
  for (const [key, value] of Object.entries(object)) object[key] = redactJson(value, session);
  return object;
}

function redactMap(map: Record<string, string>, session: RedactionSession): void {
  for (const [key, value] of Object.entries(map)) map[key] = session.text(value);
}

function redactPart(part: MessagePart, session: RedactionSession): void {
  const kind = part.kind;
  switch (kind.case) {
    case 'text':
    case 'reasoning':
    case 'refusal':
      kind.value.text = session.text(kind.value.text);
      break;
    case 'toolCall':
      kind.value.arguments = session.text(kind.value.arguments);
      break;
    case 'toolCallResponse':
      kind.value.response = session.text(kind.value.response);
      break;
    case 'media':
      // A signed URL is a bearer credential (`?X-Amz-Signature=…`, `?sig=…`).
      if (kind.value.location.case === 'uri') {
        kind.value.location.value = session.text(kind.value.location.value);
      }
      break;
    case 'other':
      if (kind.value.content !== undefined) redactObject(kind.value.content, session);
      break;
    case undefined:
      break;
  }
}

/**
 * Every text part, tool call, tool result, unmodelled part, and tool definition (its
 * description and the strings of its parameter schema, where descriptions and examples live).
 */
export function redactContent(content: CallContent, session: RedactionSession): CallContent {
  for (const part of content.systemInstructions) redactPart(part, session);
  for (const message of [...content.inputMessages, ...content.outputMessages]) {
    for (const part of message.parts) redactPart(part, session);
  }
  for (const tool of content.toolDefinitions) {
    tool.description = session.text(tool.description);
    if (tool.parameters !== undefined) redactObject(tool.parameters, session);
  }
  return content;
}

/**
 * A call's plain content, context attributes, error message and free-form invocation
 * parameters (OpenAI's `user` is often an e-mail address), then its redaction report. Use one
 * session per call: the report is the session's.
 */
export function redactCall(call: LlmCall, session: RedactionSession): LlmCall {
  if (call.content.case === 'plainContent') redactContent(call.content.value, session);
  if (call.context !== undefined) redactMap(call.context.attributes, session);
  if (call.status !== undefined) call.status.errorMessage = session.text(call.status.errorMessage);
  if (call.parameters?.other !== undefined) redactObject(call.parameters.other, session);
  call.redaction = create(RedactionReportSchema, session.report());
  return call;
}

/** A step's free-form attributes (association properties, metadata). */
export function redactStep(step: StepFragment, session: RedactionSession): StepFragment {
  redactMap(step.attributes, session);
  return step;
}
