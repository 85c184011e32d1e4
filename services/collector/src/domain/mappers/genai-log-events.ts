import { SourceFormat } from '@understudy/contracts';
import { valueOf } from '../attributes.js';
import { eventMessageOf, isContentEvent } from './genai-events.js';
import type { LogMapper, MapContext, MappedEvent, SourceLogRecord } from './mapper.js';

const nanosPerSecond = 1_000_000_000n;

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

  map({ record, eventName }: SourceLogRecord, context: MapContext): MappedEvent {
    const event = eventMessageOf(eventName, valueOf(record.body), context);
    const nanos = record.timeUnixNano || record.observedTimeUnixNano;
    return {
      time: { seconds: nanos / nanosPerSecond, nanos: Number(nanos % nanosPerSecond) },
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
