import { create } from '@bufbuild/protobuf';
import {
  CallContentSchema,
  LlmCallSchema,
  Role,
  StepFragmentSchema,
  StepKind,
} from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { createRedactor } from './redactor.js';
import { redactCall, redactContent, redactStep } from './walkers.js';

const redactor = createRedactor({
  secret: new TextEncoder().encode('walkers test secret, 32+ bytes long'),
});
const email = 'jane@acme.io';
const key = 'AKIAIOSFODNN7EXAMPLE';
const placeholder = (value: string): string => redactor.session('acme').text(value);

function content() {
  return create(CallContentSchema, {
    systemInstructions: [{ kind: { case: 'text', value: { text: `Escalate to ${email}.` } } }],
    inputMessages: [
      {
        role: Role.USER,
        parts: [
          { kind: { case: 'text', value: { text: `I am ${email}` } } },
          {
            kind: {
              case: 'other',
              value: {
                type: 'input_audio',
                content: { transcript: `mail ${email}`, n: 3, tags: [email] },
              },
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
              value: { id: 'call_1', response: `{"owner":"${email}","key":"${key}"}` },
            },
          },
        ],
      },
    ],
    outputMessages: [
      {
        role: Role.ASSISTANT,
        parts: [
          { kind: { case: 'reasoning', value: { text: `The user is ${email}.` } } },
          { kind: { case: 'refusal', value: { text: `I cannot share ${key}.` } } },
          {
            kind: {
              case: 'toolCall',
              value: { id: 'call_2', name: 'send_mail', arguments: `{"to":"${email}"}` },
            },
          },
          {
            kind: {
              case: 'media',
              value: {
                mimeType: 'image/png',
                location: { case: 'uri', value: 'https://cdn.acme.io/a.png?sig=Zx9Yw8Vu7Ts6' },
              },
            },
          },
        ],
      },
    ],
    toolDefinitions: [
      {
        type: 'function',
        name: 'send_mail',
        description: `Sends mail; replies go to ${email}.`,
        parameters: { type: 'object', properties: { to: { type: 'string', examples: [email] } } },
      },
    ],
  });
}

describe('redactContent', () => {
  it('redacts every free-text field in place, and leaves ids and names', () => {
    const value = content();
    expect(redactContent(value, redactor.session('acme'))).toBe(value);
    const p = placeholder(email);
    const [instruction] = value.systemInstructions;
    const [user, tool] = value.inputMessages;
    const [assistant] = value.outputMessages;
    const [definition] = value.toolDefinitions;
    expect(instruction?.kind.value).toMatchObject({ text: `Escalate to ${p}.` });
    expect(user?.parts[0]?.kind.value).toMatchObject({ text: `I am ${p}` });
    expect(user?.parts[1]?.kind.value).toMatchObject({
      type: 'input_audio',
      content: { transcript: `mail ${p}`, n: 3, tags: [p] },
    });
    expect(tool?.parts[0]?.kind.value).toMatchObject({
      id: 'call_1',
      response: `{"owner":"${p}","key":"${placeholder(key)}"}`,
    });
    expect(assistant?.parts.map((part) => part.kind.value)).toMatchObject([
      { text: `The user is ${p}.` },
      { text: `I cannot share ${placeholder(key)}.` },
      { id: 'call_2', name: 'send_mail', arguments: `{"to":"${p}"}` },
      { location: { case: 'uri' } },
    ]);
    const media = assistant?.parts[3]?.kind;
    expect(media?.case === 'media' && media.value.location.value).toMatch(
      /^https:\/\/cdn\.acme\.io\/a\.png\?sig=<SECRET_[0-9a-f]{8}>$/,
    );
    expect(definition).toMatchObject({
      name: 'send_mail',
      description: `Sends mail; replies go to ${p}.`,
      parameters: { properties: { to: { type: 'string', examples: [p] } } },
    });
  });
});

describe('redactCall', () => {
  it('redacts content, context attributes, the error and parameters, and adds the report', () => {
    const call = create(LlmCallSchema, {
      tenantId: 'acme',
      callId: 'c1',
      context: { agentName: 'support', attributes: { customer: email, plan: 'pro' } },
      content: { case: 'plainContent', value: content() },
      status: { errorType: '401', errorMessage: `Incorrect API key provided: ${key}` },
      parameters: { other: { user: email } },
    });
    const session = redactor.session('acme');
    expect(redactCall(call, session)).toBe(call);
    expect(call.context?.attributes).toEqual({ customer: placeholder(email), plan: 'pro' });
    expect(call.status?.errorMessage).toBe(`Incorrect API key provided: ${placeholder(key)}`);
    expect(call.parameters?.other).toEqual({ user: placeholder(email) });
    expect(
      call.content.case === 'plainContent' && call.content.value.inputMessages[0]?.parts[0],
    ).toMatchObject({ kind: { value: { text: `I am ${placeholder(email)}` } } });
    expect(call.redaction).toMatchObject({
      redactorVersion: redactor.version,
      entityCounts: { EMAIL: 11, API_KEY: 3, SECRET: 1 },
    });
    expect(call.redaction?.placeholders).toHaveLength(3);
  });

  it('leaves encrypted content alone and still reports', () => {
    const call = create(LlmCallSchema, {
      content: {
        case: 'encryptedContent',
        value: { keyId: 'k1', ciphertext: new Uint8Array([1]) },
      },
    });
    redactCall(call, redactor.session('acme'));
    expect(call.content.case).toBe('encryptedContent');
    expect(call.redaction?.entityCounts).toEqual({});
  });
});

describe('redactStep', () => {
  it('redacts attribute values', () => {
    const step = create(StepFragmentSchema, {
      kind: StepKind.AGENT,
      name: 'support',
      attributes: { user_email: email, tier: 'gold' },
    });
    expect(redactStep(step, redactor.session('acme'))).toBe(step);
    expect(step.attributes).toEqual({ user_email: placeholder(email), tier: 'gold' });
  });
});
