import { createHash } from 'node:crypto';
import {
  clone,
  create,
  equals,
  fromBinary,
  fromJson,
  toBinary,
  toJson,
  type DescMessage,
  type JsonValue,
} from '@bufbuild/protobuf';
import { isReflectMessage, reflect, type ReflectMessage } from '@bufbuild/protobuf/reflect';
import { DurationSchema, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import {
  CallCapturedSchema,
  CallStatusCode,
  EncryptedContentSchema,
  EncryptionAlgorithm,
  FinishReason,
  LlmCallSchema,
  Modality,
  Operation,
  ResponseFormatType,
  Role,
  SourceFormat,
  type LlmCall,
} from './index.js';

const tenantId = 'acme';
const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const spanId = '00f067aa0ba902b7';
const at = timestampFromDate(new Date('2026-11-24T10:00:00.250Z'));
const ms = (millis: number) =>
  create(DurationSchema, {
    seconds: BigInt(Math.floor(millis / 1000)),
    nanos: (millis % 1000) * 1e6,
  });

/** A chat call that used a tool, as the collector would publish it: every field set. */
const fullCall: LlmCall = create(LlmCallSchema, {
  tenantId,
  traceId,
  spanId,
  callId: createHash('sha256')
    .update(`${tenantId}:${traceId}:${spanId}`)
    .digest('hex')
    .slice(0, 32),
  context: {
    serviceName: 'support-agent',
    agentId: 'agt_7',
    agentName: 'triage',
    workflowName: 'ticket-intake',
    stepName: 'classify',
    stepPath: ['intake', 'classify'],
    enclosingToolName: 'lookup_customer',
    enclosingToolCallId: 'call_0',
    conversationId: 'conv_42',
    parentSpanId: 'b7ad6b7169203331',
    ancestorSpanIds: ['0af7651916cd43dd', 'b7ad6b7169203331'],
    attributes: { plan: 'enterprise' },
  },
  operation: Operation.CHAT,
  provider: 'openai',
  requestModel: 'gpt-4o',
  responseModel: 'gpt-4o-2024-08-06',
  responseId: 'chatcmpl-123',
  parameters: {
    temperature: 0.2,
    maxTokens: 512,
    topP: 0.9,
    topK: 40,
    stopSequences: ['\n\n'],
    seed: 42n,
    frequencyPenalty: 0.1,
    presencePenalty: 0.3,
    choiceCount: 1,
    responseFormat: {
      type: ResponseFormatType.JSON_SCHEMA,
      schemaName: 'ticket',
      jsonSchema: { type: 'object', properties: { priority: { type: 'string' } } },
    },
    toolChoice: 'auto',
    other: { user: 'u-1', logprobs: false },
  },
  contentCaptured: true,
  content: {
    case: 'plainContent',
    value: {
      systemInstructions: [{ kind: { case: 'text', value: { text: 'Classify tickets.' } } }],
      inputMessages: [
        {
          role: Role.USER,
          name: 'customer',
          parts: [
            { kind: { case: 'text', value: { text: 'My invoice from <EMAIL_1> is wrong.' } } },
            {
              kind: {
                case: 'media',
                value: {
                  modality: Modality.IMAGE,
                  mimeType: 'image/png',
                  location: {
                    case: 'object',
                    value: {
                      bucket: 'calls',
                      key: 'acme/blobs/1.png',
                      sha256: 'ab'.repeat(32),
                      sizeBytes: 2048n,
                      mediaType: 'image/png',
                    },
                  },
                },
              },
            },
            {
              kind: {
                case: 'media',
                value: {
                  modality: Modality.DOCUMENT,
                  mimeType: 'application/pdf',
                  location: { case: 'uri', value: 'https://example.com/invoice.pdf' },
                },
              },
            },
            {
              kind: {
                case: 'media',
                value: {
                  modality: Modality.AUDIO,
                  mimeType: 'audio/wav',
                  location: { case: 'fileId', value: 'file-abc' },
                },
              },
            },
          ],
        },
        {
          role: Role.ASSISTANT,
          parts: [
            { kind: { case: 'reasoning', value: { text: 'Need the customer record.' } } },
            {
              kind: {
                case: 'toolCall',
                value: { id: 'call_1', name: 'lookup_customer', arguments: '{"id":7}' },
              },
            },
          ],
        },
        {
          role: Role.TOOL,
          parts: [
            {
              kind: {
                case: 'toolCallResponse',
                value: { id: 'call_1', response: '{"plan":"enterprise"}' },
              },
            },
          ],
        },
      ],
      outputMessages: [
        {
          role: Role.ASSISTANT,
          parts: [
            { kind: { case: 'text', value: { text: '{"priority":"high"}' } } },
            { kind: { case: 'refusal', value: { text: 'I cannot share account numbers.' } } },
            { kind: { case: 'other', value: { type: 'citation', content: { url: 'kb/12' } } } },
          ],
          finishReason: FinishReason.STOP,
        },
      ],
      toolDefinitions: [
        {
          type: 'function',
          name: 'lookup_customer',
          description: 'Finds a customer by id.',
          parameters: { type: 'object', properties: { id: { type: 'integer' } } },
        },
      ],
    },
  },
  finishReasons: [FinishReason.STOP],
  usage: {
    inputTokens: 1200,
    outputTokens: 80,
    cachedInputTokens: 1024,
    cacheCreationInputTokens: 100,
    reasoningTokens: 16,
  },
  timing: { startTime: at, latency: ms(1850), timeToFirstToken: ms(420), streaming: true },
  status: { code: CallStatusCode.ERROR, errorType: '429', errorMessage: 'rate limited, retried' },
  source: {
    format: SourceFormat.OTEL_GENAI_ATTRIBUTES,
    version: '1.37.0',
    scopeName: '@opentelemetry/instrumentation-openai',
    scopeVersion: '0.5.0',
  },
  redaction: {
    redactorVersion: 'regex-pii@1.0.0',
    entityCounts: { EMAIL: 1 },
    placeholders: ['<EMAIL_1>'],
  },
});

/** The same call with its content encrypted for transit. */
const encryptedCall: LlmCall = clone(LlmCallSchema, fullCall);
encryptedCall.content = {
  case: 'encryptedContent',
  value: create(EncryptedContentSchema, {
    keyId: 'kms://acme/content',
    algorithm: EncryptionAlgorithm.AES_256_GCM,
    wrappedDataKey: new Uint8Array([1, 2, 3]),
    nonce: new Uint8Array(12).fill(7),
    ciphertext: new Uint8Array([9, 8, 7, 6]),
  }),
};

const isWellKnown = (message: DescMessage) => message.typeName.startsWith('google.protobuf.');

/** `Type.field` for every field of every understudy message reachable from `root`. */
function reachableFields(root: DescMessage, seen = new Set<DescMessage>()): Set<string> {
  const names = new Set<string>();
  if (isWellKnown(root) || seen.has(root)) return names;
  seen.add(root);
  for (const f of root.fields) {
    names.add(`${root.name}.${f.name}`);
    const nested = f.message;
    if (nested) for (const name of reachableFields(nested, seen)) names.add(name);
  }
  return names;
}

/** `Type.field` for every field holding a non-default value somewhere in `message`. */
function setFields(message: ReflectMessage, names = new Set<string>()): Set<string> {
  if (isWellKnown(message.desc)) return names;
  for (const f of message.fields) {
    if (!message.isSet(f)) continue;
    names.add(`${message.desc.name}.${f.name}`);
    const items: unknown[] =
      f.fieldKind === 'list'
        ? [...message.get(f)]
        : f.fieldKind === 'map'
          ? [...message.get(f).values()]
          : [message.get(f)];
    for (const item of items) if (isReflectMessage(item)) setFields(item, names);
  }
  return names;
}

describe('LlmCall', () => {
  it('fixtures set every field reachable from LlmCall', () => {
    const covered = new Set([
      ...setFields(reflect(LlmCallSchema, fullCall)),
      ...setFields(reflect(LlmCallSchema, encryptedCall)),
    ]);
    const reachable = [...reachableFields(LlmCallSchema)];
    expect(reachable.length).toBeGreaterThan(90);
    expect(reachable.filter((name) => !covered.has(name))).toEqual([]);
  });

  it.each([
    ['plain', fullCall],
    ['encrypted', encryptedCall],
  ])('survives binary and JSON round trips with %s content', (_, call) => {
    const viaBinary = fromBinary(LlmCallSchema, toBinary(LlmCallSchema, call));
    const json = JSON.parse(JSON.stringify(toJson(LlmCallSchema, call))) as JsonValue;
    const viaJson = fromJson(LlmCallSchema, json);
    expect(equals(LlmCallSchema, viaBinary, call)).toBe(true);
    expect(equals(LlmCallSchema, viaJson, call)).toBe(true);
    expect(viaBinary).toEqual(call);
  });

  it('writes canonical proto3 JSON', () => {
    const json = toJson(LlmCallSchema, fullCall) as Record<string, unknown>;
    expect(json).toMatchObject({
      callId: fullCall.callId,
      operation: 'OPERATION_CHAT',
      finishReasons: ['FINISH_REASON_STOP'],
      parameters: { seed: '42', responseFormat: { type: 'RESPONSE_FORMAT_TYPE_JSON_SCHEMA' } },
      timing: { startTime: '2026-11-24T10:00:00.250Z', latency: '1.850s' },
    });
  });

  it('travels inside CallCaptured', () => {
    const event = create(CallCapturedSchema, {
      meta: {
        eventId: '0b8c1c5e-5f7a-4d5e-9f0c-2f1d6c7e8a9b',
        tenantId,
        occurredAt: at,
        producer: 'collector',
        traceParent: `00-${traceId}-${spanId}-01`,
      },
      call: fullCall,
    });
    const decoded = fromBinary(CallCapturedSchema, toBinary(CallCapturedSchema, event));
    expect(decoded.call?.callId).toBe(fullCall.callId);
    expect(decoded.call?.content.case).toBe('plainContent');
  });
});
