import { create } from '@bufbuild/protobuf';
import {
  ContentEventFragmentSchema,
  type CallContent,
  type ContentEventFragment,
  FinishReason,
  Modality,
  Role,
  otlpLogs,
} from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { anyValue, keyValues, type Plain } from '../../testing/otlp-requests.js';
import { attributesOf, text } from '../attributes.js';
import { blobStore } from '../../testing/mapping.js';
import { genAiLogEvents, genAiOperationDetails } from './genai-log-events.js';
import type { SourceLogRecord } from './mapper.js';

const time = 1_795_541_815_972_000_123n;

interface RecordInit {
  /** The `event.name` attribute, as @opentelemetry/instrumentation-openai sets it. */
  readonly attributeName?: string;
  /** `LogRecord.event_name`, as the Python SDK sets it. */
  readonly eventName?: string;
  readonly body?: Plain;
  readonly attributes?: Record<string, Plain>;
  readonly timeUnixNano?: bigint;
}

/** A log record as the collector reads it: event name from the field, else the attribute. */
function record({
  attributeName,
  eventName = '',
  body,
  attributes: extra = {},
  timeUnixNano = time,
}: RecordInit) {
  const otlp = create(otlpLogs.LogRecordSchema, {
    timeUnixNano,
    observedTimeUnixNano: time + 1_000n,
    eventName,
    attributes: keyValues({
      'gen_ai.system': 'openai',
      ...(attributeName !== undefined && { 'event.name': attributeName }),
      ...extra,
    }),
    ...(body !== undefined && { body: anyValue(body) }),
  });
  const attributes = attributesOf(otlp.attributes);
  const source: SourceLogRecord = {
    record: otlp,
    attributes,
    resource: {},
    scopeName: '@opentelemetry/instrumentation-openai',
    scopeVersion: '0.22.0',
    schemaUrl: '',
    eventName: otlp.eventName || (text(attributes['event.name']) ?? ''),
  };
  return source;
}

function mapped(init: RecordInit, context = blobStore().context) {
  const source = record(init);
  expect(genAiLogEvents.recognises(source)).toBe(true);
  return create(ContentEventFragmentSchema, genAiLogEvents.map(source, context));
}

/** The content of the mapped event, which is never encrypted by the mapper. */
function plain(event: ContentEventFragment): CallContent {
  if (event.content.case !== 'plainContent') throw new Error(`got ${event.content.case}`);
  return event.content.value;
}

const text_ = (value: string) => ({ kind: { case: 'text', value: { text: value } } });

describe('OTel GenAI semconv ≤ 1.36 log events', () => {
  describe('as @opentelemetry/instrumentation-openai 0.22.0 sends them', () => {
    it('maps the system and user messages to input messages, at their time', () => {
      expect(
        mapped({
          attributeName: 'gen_ai.system.message',
          body: { content: 'You are a concise travel assistant.' },
        }),
      ).toMatchObject({
        time: { seconds: 1_795_541_815n, nanos: 972_000_123 },
        choiceIndex: 0,
        content: {
          case: 'plainContent',
          value: {
            systemInstructions: [],
            inputMessages: [
              { role: Role.SYSTEM, parts: [text_('You are a concise travel assistant.')] },
            ],
            outputMessages: [],
          },
        },
      });
      expect(
        plain(
          mapped({
            attributeName: 'gen_ai.user.message',
            body: { content: 'What is the capital of Norway?' },
          }),
        ),
      ).toMatchObject({
        inputMessages: [{ role: Role.USER, parts: [text_('What is the capital of Norway?')] }],
      });
    });

    it('maps the assistant tool calls and the tool result answering them', () => {
      const toolCall = {
        id: 'call_weather_oslo',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
      };
      expect(
        plain(
          mapped({ attributeName: 'gen_ai.assistant.message', body: { tool_calls: [toolCall] } }),
        ),
      ).toMatchObject({
        inputMessages: [
          {
            role: Role.ASSISTANT,
            parts: [
              {
                kind: {
                  case: 'toolCall',
                  value: {
                    id: 'call_weather_oslo',
                    name: 'get_weather',
                    arguments: '{"city":"Oslo"}',
                  },
                },
              },
            ],
          },
        ],
      });
      expect(
        plain(
          mapped({
            attributeName: 'gen_ai.tool.message',
            body: { id: 'call_weather_oslo', content: '{"temperature_c":12}' },
          }),
        ),
      ).toMatchObject({
        inputMessages: [
          {
            role: Role.TOOL,
            parts: [
              {
                kind: {
                  case: 'toolCallResponse',
                  value: { id: 'call_weather_oslo', response: '{"temperature_c":12}' },
                },
              },
            ],
          },
        ],
      });
    });

    it('maps a choice to the output message of its index, with its finish reason', () => {
      expect(
        mapped({
          attributeName: 'gen_ai.choice',
          body: {
            finish_reason: 'stop',
            index: 1,
            message: { content: 'The capital of Norway is Oslo.' },
          },
        }),
      ).toMatchObject({
        choiceIndex: 1,
        content: {
          value: {
            inputMessages: [],
            outputMessages: [
              {
                role: Role.ASSISTANT,
                finishReason: FinishReason.STOP,
                parts: [text_('The capital of Norway is Oslo.')],
              },
            ],
          },
        },
      });
    });

    it('maps bodies without content (capture off) to messages without parts', () => {
      // Capture off keeps tool call ids and names but no arguments, and the tool message's id.
      const nameOnly = { id: 'call_1', type: 'function', function: { name: 'get_weather' } };
      const events: [string, Plain][] = [
        ['gen_ai.system.message', {}],
        ['gen_ai.user.message', {}],
        ['gen_ai.assistant.message', { tool_calls: [nameOnly] }],
        ['gen_ai.tool.message', { id: 'call_1' }],
      ];
      for (const [attributeName, body] of events) {
        const [message] = plain(mapped({ attributeName, body })).inputMessages;
        expect(message?.parts).toEqual([]);
      }
      expect(
        plain(
          mapped({
            attributeName: 'gen_ai.choice',
            body: { finish_reason: 'tool_calls', index: 0, message: { tool_calls: [nameOnly] } },
          }),
        ).outputMessages,
      ).toMatchObject([{ role: Role.ASSISTANT, finishReason: FinishReason.TOOL_CALLS, parts: [] }]);
    });
  });

  describe('as the Python openai-v2 instrumentation sends them', () => {
    it('names events in LogRecord.event_name, developer messages too, and may send no body', () => {
      expect(
        plain(
          mapped({ eventName: 'gen_ai.developer.message', body: { content: 'Answer in French.' } }),
        ).inputMessages,
      ).toMatchObject([{ role: Role.DEVELOPER, parts: [text_('Answer in French.')] }]);
      expect(plain(mapped({ eventName: 'gen_ai.user.message' })).inputMessages).toMatchObject([
        { role: Role.USER, parts: [] },
      ]);
    });

    it('keeps OpenAI content parts, storing inline images and audio as blobs', () => {
      const { blobs, context } = blobStore();
      const event = mapped(
        {
          eventName: 'gen_ai.user.message',
          body: {
            content: [
              { type: 'text', text: 'What is in the picture and the recording?' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw==' } },
              { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
              { type: 'input_audio', input_audio: { data: 'AAEC', format: 'wav' } },
              { type: 'file', file: { file_id: 'file-abc' } },
            ],
          },
        },
        context,
      );
      expect(plain(event).inputMessages).toMatchObject([
        {
          role: Role.USER,
          parts: [
            text_('What is in the picture and the recording?'),
            {
              kind: {
                case: 'media',
                value: {
                  modality: Modality.IMAGE,
                  mimeType: 'image/png',
                  location: { case: 'object', value: { key: 'blob-1' } },
                },
              },
            },
            {
              kind: {
                case: 'media',
                value: {
                  modality: Modality.IMAGE,
                  location: { case: 'uri', value: 'https://example.com/cat.jpg' },
                },
              },
            },
            {
              kind: {
                case: 'media',
                value: {
                  modality: Modality.AUDIO,
                  mimeType: 'audio/wav',
                  location: { case: 'object', value: { key: 'blob-2' } },
                },
              },
            },
            { kind: { case: 'media', value: { location: { case: 'fileId', value: 'file-abc' } } } },
          ],
        },
      ]);
      expect(blobs).toEqual([
        { bytes: new Uint8Array(Buffer.from('iVBORw==', 'base64')), mimeType: 'image/png' },
        { bytes: new Uint8Array([0, 1, 2]), mimeType: 'audio/wav' },
      ]);
    });
  });

  describe('as the OpenLLMetry Python instrumentation sends them (use_attributes=False)', () => {
    const toolCall = {
      id: 'call_weather_oslo',
      function: { arguments: '{"city":"Oslo"}', name: 'get_weather' },
      type: 'function',
    };
    const toolCallPart = {
      kind: {
        case: 'toolCall',
        value: { id: 'call_weather_oslo', name: 'get_weather', arguments: '{"city":"Oslo"}' },
      },
    };

    it('takes the tool calls a choice holds beside its message; an empty map is no content', () => {
      expect(
        plain(
          mapped({
            eventName: 'gen_ai.choice',
            body: {
              index: 0,
              message: { content: {} },
              finish_reason: 'tool_calls',
              tool_calls: [toolCall],
            },
          }),
        ).outputMessages,
      ).toMatchObject([
        { role: Role.ASSISTANT, finishReason: FinishReason.TOOL_CALLS, parts: [toolCallPart] },
      ]);
      expect(
        plain(
          mapped({
            eventName: 'gen_ai.assistant.message',
            body: { content: {}, tool_calls: [toolCall] },
          }),
        ).inputMessages,
      ).toMatchObject([{ role: Role.ASSISTANT, parts: [toolCallPart] }]);
    });

    it('maps bodies without content (capture off) to messages without parts', () => {
      expect(plain(mapped({ eventName: 'gen_ai.user.message', body: {} })).inputMessages).toEqual([
        expect.objectContaining({ role: Role.USER, parts: [] }),
      ]);
      expect(
        plain(
          mapped({
            eventName: 'gen_ai.choice',
            body: { index: 0, message: {}, finish_reason: 'stop' },
          }),
        ).outputMessages,
      ).toEqual([expect.objectContaining({ finishReason: FinishReason.STOP, parts: [] })]);
    });
  });

  it('reads bodies sent as JSON text', () => {
    expect(
      plain(
        mapped({
          attributeName: 'gen_ai.choice',
          body: JSON.stringify({ index: 0, finish_reason: 'length', message: { content: 'Os' } }),
        }),
      ).outputMessages,
    ).toMatchObject([{ finishReason: FinishReason.LENGTH, parts: [text_('Os')] }]);
  });

  it('falls back to the observed time when the record has none', () => {
    expect(
      mapped({ attributeName: 'gen_ai.user.message', body: { content: 'Hi' }, timeUnixNano: 0n })
        .time,
    ).toMatchObject({ seconds: 1_795_541_815n, nanos: 972_001_123 });
  });

  it('leaves other log records alone', () => {
    for (const init of [
      {},
      { attributeName: 'gen_ai.client.inference.operation.details' },
      { eventName: 'browser.page_view' },
      { attributeName: 'toString' },
    ]) {
      expect(genAiLogEvents.recognises(record(init))).toBe(false);
    }
  });
});

describe('OTel GenAI semconv ≥ 1.37 operation-details events', () => {
  const details = (attributes: Record<string, Plain>) => {
    const source = record({ eventName: 'gen_ai.client.inference.operation.details', attributes });
    expect(genAiOperationDetails.recognises(source)).toBe(true);
    expect(genAiLogEvents.recognises(source)).toBe(false);
    return create(
      ContentEventFragmentSchema,
      genAiOperationDetails.map(source, blobStore().context),
    );
  };

  it('maps the input of a Responses API call as the OTel JS instrumentation sends it', () => {
    const event = details({
      'gen_ai.provider.name': 'openai',
      'gen_ai.input.messages': [
        { role: 'system', parts: [{ type: 'text', content: 'Be brief.' }] },
        {
          role: 'user',
          parts: [{ type: 'tool_call_response', response: '12 °C', call_id: 'call_1' }],
        },
      ],
    });
    expect(event).toMatchObject({ time: { seconds: 1_795_541_815n }, choiceIndex: 0 });
    expect(plain(event)).toMatchObject({
      systemInstructions: [],
      inputMessages: [
        { role: Role.SYSTEM, parts: [text_('Be brief.')] },
        {
          role: Role.TOOL,
          parts: [
            { kind: { case: 'toolCallResponse', value: { id: 'call_1', response: '12 °C' } } },
          ],
        },
      ],
      outputMessages: [],
    });
  });

  it('maps the output, and instructions and messages given as JSON text in one event', () => {
    const event = details({
      'gen_ai.system_instructions': JSON.stringify([{ type: 'text', content: 'Be brief.' }]),
      'gen_ai.input.messages': JSON.stringify([
        { role: 'user', parts: [{ type: 'text', content: 'Capital of Norway?' }] },
      ]),
      'gen_ai.output.messages': JSON.stringify([
        {
          role: 'assistant',
          parts: [
            { type: 'reasoning', text: 'Easy.' },
            { type: 'text', content: 'Oslo.' },
          ],
          finish_reason: 'stop',
        },
      ]),
    });
    expect(plain(event)).toMatchObject({
      systemInstructions: [text_('Be brief.')],
      inputMessages: [{ role: Role.USER, parts: [text_('Capital of Norway?')] }],
      outputMessages: [
        {
          role: Role.ASSISTANT,
          finishReason: FinishReason.STOP,
          parts: [{ kind: { case: 'reasoning', value: { text: 'Easy.' } } }, text_('Oslo.')],
        },
      ],
    });
  });

  it('leaves the ≤ 1.36 events to their mapper', () => {
    expect(genAiOperationDetails.recognises(record({ eventName: 'gen_ai.choice' }))).toBe(false);
  });
});
