import { SourceFormat } from '@understudy/contracts';
import { structured, valueOf } from '../attributes.js';
import { instructionsOf, messagesOf } from './genai-content.js';
import { eventMessageOf, isContentEvent } from './genai-events.js';
import type { LogMapper, MapContext, MappedEvent, SourceLogRecord } from './mapper.js';

const nanosPerSecond = 1_000_000_000n;

/** Semconv ≥ 1.37's one event for a call's content, all of it in the event's attributes. */
const operationDetailsEvent = 'gen_ai.client.inference.operation.details';

function timeOf({ record }: SourceLogRecord): MappedEvent['time'] {
  const nanos = record.timeUnixNano || record.observedTimeUnixNano;
  return { seconds: nanos / nanosPerSecond, nanos: Number(nanos % nanosPerSecond) };
}

/**
 * OTel GenAI semantic conventions ≤ 1.36 content events sent as log records: one message each
 * (`gen_ai.{system,user,assistant,tool}.message`, `gen_ai.choice`), named by
 * `LogRecord.event_name` or the older `event.name` attribute, the message in the body, and
 * joined to their call by trace and span id.
 */
export const genAiLogEvents: LogMapper = {
  format: SourceFormat.OTEL_GENAI_EVENTS,

  recognises({ eventName }: SourceLogRecord): boolean {
    return isContentEvent(eventName);
  },

  map(source: SourceLogRecord, context: MapContext): MappedEvent {
    const event = eventMessageOf(source.eventName, valueOf(source.record.body), context);
    return {
      time: timeOf(source),
      choiceIndex: event.output ? event.choiceIndex : 0,
      content: {
        case: 'plainContent',
        value: event.output
          ? { outputMessages: [event.message] }
          : { inputMessages: [event.message] },
      },
    };
  },
};

/**
 * OTel GenAI semantic conventions ≥ 1.37 content sent as events: a
 * `gen_ai.client.inference.operation.details` log record with the span's content attributes
 * (`gen_ai.system_instructions`, `gen_ai.input.messages`, `gen_ai.output.messages`), joined to
 * the call by trace and span id. One event may hold the input, the output or both: the OTel JS
 * instrumentation sends the input when a Responses API call starts and the output when it ends.
 */
export const genAiOperationDetails: LogMapper = {
  format: SourceFormat.OTEL_GENAI_ATTRIBUTES,

  recognises({ eventName }: SourceLogRecord): boolean {
    return eventName === operationDetailsEvent;
  },

  map(source: SourceLogRecord, context: MapContext): MappedEvent {
    const a = source.attributes;
    return {
      time: timeOf(source),
      choiceIndex: 0,
      content: {
        case: 'plainContent',
        value: {
          systemInstructions: instructionsOf(a['gen_ai.system_instructions'], context),
          inputMessages: messagesOf(structured(a['gen_ai.input.messages']), context) ?? [],
          outputMessages: messagesOf(structured(a['gen_ai.output.messages']), context) ?? [],
        },
      },
    };
  },
};
