import { create } from '@bufbuild/protobuf';
import { CallContentSchema, FinishReason, Modality, Role } from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import type { ValueObject } from '../attributes.js';
import { noBlobs } from '../../testing/mapping.js';
import {
  isResponse,
  isResponsesItem,
  oneChoice,
  responsesFinishReason,
  responsesInputMessages,
} from './openai-responses.js';

const textPart = (text: string) => ({ kind: { case: 'text' as const, value: { text } } });
const reasoningPart = (text: string) => ({
  kind: { case: 'reasoning' as const, value: { text } },
});
const weather = '{"temperature_c":12,"conditions":"cloudy"}';

/** The input messages as the contract holds them. */
const inputOf = (input: Parameters<typeof responsesInputMessages>[0]) =>
  create(CallContentSchema, { inputMessages: responsesInputMessages(input, noBlobs) })
    .inputMessages;

describe('OpenAI Responses API shapes', () => {
  it('reads text input as the user message', () => {
    expect(inputOf('What is the capital of Norway?')).toMatchObject([
      { role: Role.USER, parts: [textPart('What is the capital of Norway?')] },
    ]);
  });

  it('reads a tool round trip: messages, reasoning, the call and its output by call_id', () => {
    expect(
      inputOf([
        { role: 'developer', content: 'Answer briefly.' },
        {
          type: 'message',
          role: 'user',
          content: [
            { type: 'input_text', text: 'Weather where this is?' },
            { type: 'input_image', image_url: 'https://example.com/oslo.jpg' },
            { type: 'input_file', file_id: 'file-1' },
          ],
        },
        {
          id: 'rs_1',
          type: 'reasoning',
          summary: [{ type: 'summary_text', text: 'Find the city, then call the tool.' }],
          content: [{ type: 'reasoning_text', text: 'It is Oslo.' }],
        },
        {
          id: 'fc_1',
          type: 'function_call',
          call_id: 'call_1',
          name: 'get_weather',
          arguments: '{"city":"Oslo"}',
        },
        { type: 'function_call_output', call_id: 'call_1', output: weather },
        {
          type: 'message',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'It is 12 °C.', annotations: [] }],
        },
      ]),
    ).toMatchObject([
      { role: Role.DEVELOPER, parts: [textPart('Answer briefly.')] },
      {
        role: Role.USER,
        parts: [
          textPart('Weather where this is?'),
          {
            kind: {
              case: 'media',
              value: {
                modality: Modality.IMAGE,
                location: { case: 'uri', value: 'https://example.com/oslo.jpg' },
              },
            },
          },
          {
            kind: {
              case: 'media',
              value: {
                modality: Modality.DOCUMENT,
                location: { case: 'fileId', value: 'file-1' },
              },
            },
          },
        ],
      },
      {
        role: Role.ASSISTANT,
        parts: [reasoningPart('Find the city, then call the tool.'), reasoningPart('It is Oslo.')],
      },
      {
        role: Role.ASSISTANT,
        parts: [
          {
            kind: {
              case: 'toolCall',
              value: { id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' },
            },
          },
        ],
      },
      {
        role: Role.TOOL,
        parts: [{ kind: { case: 'toolCallResponse', value: { id: 'call_1', response: weather } } }],
      },
      { role: Role.ASSISTANT, parts: [textPart('It is 12 °C.')] },
    ]);
  });

  it('reads custom tools, output given as text blocks, and keeps items it does not model', () => {
    expect(
      inputOf([
        { type: 'custom_tool_call', call_id: 'call_2', name: 'sql', input: 'SELECT 1' },
        {
          type: 'custom_tool_call_output',
          call_id: 'call_2',
          output: [
            { type: 'input_text', text: '1' },
            { type: 'input_text', text: ' row' },
          ],
        },
        { type: 'item_reference', id: 'msg_9' },
      ]),
    ).toMatchObject([
      {
        role: Role.ASSISTANT,
        parts: [{ kind: { case: 'toolCall', value: { id: 'call_2', arguments: 'SELECT 1' } } }],
      },
      {
        role: Role.TOOL,
        parts: [{ kind: { case: 'toolCallResponse', value: { id: 'call_2', response: '1 row' } } }],
      },
      {
        role: Role.ASSISTANT,
        parts: [
          { kind: { case: 'other', value: { type: 'item_reference', content: { id: 'msg_9' } } } },
        ],
      },
    ]);
  });

  it('tells items and responses from other data', () => {
    expect(
      [{ role: 'user' }, { type: 'reasoning' }, { content: 'x' }, 'text'].map(isResponsesItem),
    ).toEqual([true, true, false, false]);
    expect(isResponse({ object: 'response', id: 'resp_1' })).toBe(true);
    expect(isResponse({ object: 'chat.completion' })).toBe(false);
  });

  it('says why a response ended from its status and output', () => {
    const call = { type: 'function_call', call_id: 'call_1', name: 'f', arguments: '{}' };
    const message = { type: 'message', role: 'assistant', content: [] };
    const cases: [ValueObject, FinishReason][] = [
      [{ status: 'completed', output: [message] }, FinishReason.STOP],
      [
        { status: 'completed', output: [{ type: 'reasoning', summary: [] }, call] },
        FinishReason.TOOL_CALLS,
      ],
      [
        { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } },
        FinishReason.LENGTH,
      ],
      [
        { status: 'incomplete', incomplete_details: { reason: 'content_filter' } },
        FinishReason.CONTENT_FILTER,
      ],
      [{ status: 'incomplete', incomplete_details: { reason: 'constructor' } }, FinishReason.OTHER],
      [{ status: 'failed' }, FinishReason.ERROR],
      [{ status: 'cancelled' }, FinishReason.OTHER],
      [{}, FinishReason.UNSPECIFIED],
    ];
    for (const [response, reason] of cases) {
      expect(responsesFinishReason(response), JSON.stringify(response)).toBe(reason);
    }
  });

  it('makes the output messages of one response its one choice', () => {
    const reasoning = { role: Role.ASSISTANT, parts: [reasoningPart('Think.')] };
    const answer = { role: Role.ASSISTANT, parts: [textPart('Oslo.')] };
    expect(oneChoice([reasoning, answer], FinishReason.STOP)).toEqual([
      {
        role: Role.ASSISTANT,
        parts: [reasoningPart('Think.'), textPart('Oslo.')],
        finishReason: FinishReason.STOP,
      },
    ]);
    expect(oneChoice([], FinishReason.STOP)).toEqual([]);
  });
});
