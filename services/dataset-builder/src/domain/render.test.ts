import { create } from '@bufbuild/protobuf';
import { CallStatusCode, LlmCallSchema, Role, type LlmCall } from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import {
  callWith,
  chatCall,
  encrypted,
  testKeyring,
  text,
  toolCall,
  toolResult,
} from '../testing/calls.js';
import { renderCall } from './render.js';

/** An agent turn with tools: the model asked for a tool, got its result, and answers with another call. */
const agentCall = create(LlmCallSchema, {
  tenantId: 'acme',
  callId: 'c-tools',
  contentCaptured: true,
  content: {
    case: 'plainContent',
    value: {
      systemInstructions: [text('You book flights.')],
      inputMessages: [
        { role: Role.USER, parts: [text('Fly me to Oslo'), text('on Friday')] },
        {
          role: Role.ASSISTANT,
          parts: [toolCall('call_1', 'search_flights', '{"to":"OSL","day":"fri"}')],
        },
        { role: Role.TOOL, parts: [toolResult('call_1', '[{"flight":"SK123"}]')] },
      ],
      outputMessages: [
        {
          role: Role.ASSISTANT,
          parts: [
            { kind: { case: 'reasoning', value: { text: 'the user wants the first one' } } },
            text('Booking SK123.'),
            toolCall('call_2', 'book', '{"flight":"SK123"}'),
          ],
        },
      ],
      toolDefinitions: [
        {
          type: 'function',
          name: 'search_flights',
          description: 'Find flights',
          parameters: { type: 'object', properties: { to: { type: 'string' } } },
        },
        { type: '', name: 'book' },
      ],
    },
  },
  status: { code: CallStatusCode.OK },
});

describe('renderCall', () => {
  it('renders the OpenAI fine-tuning format field by field, with tool calls and results', () => {
    const rendered = renderCall(agentCall);
    expect(rendered).toEqual({
      ok: true,
      example: {
        messages: [
          { role: 'system', content: 'You book flights.' },
          { role: 'user', content: 'Fly me to Oslo\non Friday' },
          {
            role: 'assistant',
            tool_calls: [
              {
                id: 'call_1',
                type: 'function',
                function: { name: 'search_flights', arguments: '{"to":"OSL","day":"fri"}' },
              },
            ],
          },
          { role: 'tool', tool_call_id: 'call_1', content: '[{"flight":"SK123"}]' },
          {
            role: 'assistant',
            content: 'Booking SK123.',
            tool_calls: [
              {
                id: 'call_2',
                type: 'function',
                function: { name: 'book', arguments: '{"flight":"SK123"}' },
              },
            ],
          },
        ],
        tools: [
          {
            type: 'function',
            function: {
              name: 'search_flights',
              description: 'Find flights',
              parameters: { type: 'object', properties: { to: { type: 'string' } } },
            },
          },
          { type: 'function', function: { name: 'book' } },
        ],
      },
    });
    // Arguments stay JSON strings, exactly as the model produced them.
    expect(JSON.stringify(rendered)).toContain('"arguments":"{\\"flight\\":\\"SK123\\"}"');
  });

  it('renders a plain chat without a tools key', () => {
    expect(
      renderCall(chatCall({ callId: 'c', system: 'Be brief.', user: 'Hi', answer: 'Hello' })),
    ).toEqual({
      ok: true,
      example: {
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello' },
        ],
      },
    });
  });

  it('moves tool results carried in a user message into tool messages before the text', () => {
    const rendered = renderCall(
      callWith({
        inputMessages: [
          { role: Role.USER, parts: [toolResult('t1', '42'), text('and now?')] },
          { role: Role.DEVELOPER, parts: [text('Answer in French.')] },
        ],
        outputMessages: [{ role: Role.ASSISTANT, parts: [text('Quarante-deux.')] }],
      }),
    );
    expect(rendered).toEqual({
      ok: true,
      example: {
        messages: [
          { role: 'tool', tool_call_id: 't1', content: '42' },
          { role: 'user', content: 'and now?' },
          { role: 'system', content: 'Answer in French.' },
          { role: 'assistant', content: 'Quarante-deux.' },
        ],
      },
    });
  });

  it('excludes calls that failed, lack content or cannot be expressed', () => {
    const reason = (call: LlmCall) => {
      const rendered = renderCall(call);
      return rendered.ok ? 'ok' : rendered.reason;
    };
    const question = { role: Role.USER, parts: [text('Hi')] };
    const answer = { role: Role.ASSISTANT, parts: [text('Hello')] };
    expect(reason(callWith({ inputMessages: [question], outputMessages: [answer] }))).toBe('ok');
    expect(reason(chatCall({ callId: 'e', status: CallStatusCode.ERROR }))).toBe('error');
    expect(reason(create(LlmCallSchema, { callId: 'n', contentCaptured: false }))).toBe(
      'no_content',
    );
    expect(
      reason(
        create(LlmCallSchema, {
          contentCaptured: true,
          content: { case: 'encryptedContent', value: { keyId: 'k' } },
        }),
      ),
    ).toBe('encrypted');
    expect(reason(callWith({ inputMessages: [question] }))).toBe('no_output');
    expect(
      reason(callWith({ inputMessages: [question], outputMessages: [{ role: Role.ASSISTANT }] })),
    ).toBe('no_output');
    const image = {
      kind: { case: 'media', value: { location: { case: 'uri', value: 'https://x/y.png' } } },
    } as const;
    expect(
      reason(
        callWith({
          inputMessages: [{ role: Role.USER, parts: [image] }],
          outputMessages: [answer],
        }),
      ),
    ).toBe('unsupported_content');
    expect(
      reason(
        callWith({
          inputMessages: [question],
          outputMessages: [answer],
          toolDefinitions: [{ type: 'web_search', name: 'web_search' }],
        }),
      ),
    ).toBe('unsupported_content');
    // A tool message needs the id of the call it answers.
    expect(
      reason(
        callWith({
          inputMessages: [question, { role: Role.TOOL, parts: [text('42')] }],
          outputMessages: [answer],
        }),
      ),
    ).toBe('unsupported_content');
  });

  it('renders encrypted content opened with the keyring exactly as the plain content', () => {
    const { keyring } = testKeyring('acme');
    expect(renderCall(encrypted(agentCall, keyring), keyring)).toEqual(renderCall(agentCall));
    // Without its key (none configured, or removed from the file since), the call is left out.
    const sealed = encrypted(agentCall, keyring);
    expect(renderCall(sealed)).toEqual({ ok: false, reason: 'encrypted' });
    expect(renderCall(sealed, testKeyring('globex').keyring)).toEqual({
      ok: false,
      reason: 'encrypted',
    });
  });
});
