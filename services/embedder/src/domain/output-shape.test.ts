import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { CallContentSchema, Role, type MessagePartSchema } from '@understudy/contracts';
import { contentOf } from '@understudy/tenancy';
import { describe, expect, it } from 'vitest';
import { llmCall, type Answer } from '../testing/calls.js';
import { outputShape } from './output-shape.js';

const shapeOf = (...answers: Answer[]) => outputShape(contentOf(llmCall({ answers })));
const digestOf = (...answers: Answer[]) => shapeOf(...answers)?.digest;

/** Content whose one answer is made of the given parts, as a streaming source records it. */
const answerOf = (...parts: MessageInitShape<typeof MessagePartSchema>[]) =>
  create(CallContentSchema, { outputMessages: [{ role: Role.ASSISTANT, parts }] });

describe('outputShape', () => {
  it('takes a JSON object or array as JSON, fenced or not, and nothing else', () => {
    const json = (text: string) => shapeOf({ text })?.json;
    expect(json('{"queue":"hardware"}')).toBe(true);
    expect(json('  [1, 2]\n')).toBe(true);
    expect(json('```json\n{"queue": "hardware"}\n```')).toBe(true);
    expect(json('```\n[1]\n```')).toBe(true);
    expect(json('42')).toBe(false);
    expect(json('"hardware"')).toBe(false);
    expect(json('The queue is {"queue":"hardware"}')).toBe(false);
    expect(json('{"queue":')).toBe(false);
    expect(json('```python\n[1]\n```')).toBe(false);
  });

  it('reads the text parts of a streamed answer as one text', () => {
    const streamed = answerOf(
      { kind: { case: 'text', value: { text: '{"queue":' } } },
      { kind: { case: 'reasoning', value: { text: 'It is a printer.' } } },
      { kind: { case: 'text', value: { text: '"hardware"}' } } },
    );
    expect(outputShape(streamed)).toMatchObject({
      json: true,
      digest: digestOf({ text: '{"queue":"hardware"}' }),
    });
  });

  it('notes tool calls of the first choice and counts the choices', () => {
    const page = { name: 'page', arguments: '{"team":"facilities"}' };
    expect(shapeOf({ toolCalls: [page] }, { text: 'Paging now.' })).toMatchObject({
      json: false,
      toolCall: true,
      choices: 2,
    });
    expect(shapeOf({ text: 'Paging now.' }, { toolCalls: [page] })).toMatchObject({
      toolCall: false,
      choices: 2,
    });
  });

  it('gives equal answers one digest, whatever their whitespace, case, key order or call ids', () => {
    expect(digestOf({ text: 'Refund  the\norder.' })).toMatch(/^[0-9a-f]{64}$/);
    expect(digestOf({ text: 'Refund  the\norder.' })).toBe(digestOf({ text: 'refund the order.' }));
    expect(digestOf({ text: '{"a":1,"b":[2,3]}' })).toBe(
      digestOf({ text: '```json\n{ "b": [2, 3], "a": 1 }\n```' }),
    );
    const call = (name: string, args: string) => ({ toolCalls: [{ name, arguments: args }] });
    expect(digestOf(call('page', '{"team":"it","urgent":true}'))).toBe(
      digestOf(call('page', '{ "urgent": true, "team": "it" }')),
    );
    expect(digestOf(call('page', 'team=it'))).toBe(digestOf(call('page', ' team=it ')));
    const withId = (id: string) =>
      outputShape(
        answerOf({ kind: { case: 'toolCall', value: { id, name: 'page', arguments: '{}' } } }),
      )?.digest;
    expect(withId('call_1')).toBe(withId('call_2'));
  });

  it('tells different answers apart', () => {
    const digests = [
      digestOf({ text: 'refund the order.' }),
      digestOf({ text: 'cancel the order.' }),
      digestOf({ text: '{"a":1}' }),
      digestOf({ text: '{"a":2}' }),
      digestOf({ toolCalls: [{ name: 'page', arguments: '{"team":"it"}' }] }),
      digestOf({ toolCalls: [{ name: 'call', arguments: '{"team":"it"}' }] }),
      digestOf({ text: 'Paging.', toolCalls: [{ name: 'page', arguments: '{"team":"it"}' }] }),
    ];
    expect(new Set(digests).size).toBe(digests.length);
  });

  it('is absent without content or without an answer', () => {
    expect(outputShape(undefined)).toBeUndefined();
    expect(shapeOf()).toBeUndefined();
    expect(outputShape(contentOf(llmCall({ user: 'Printer on fire' })))).toBeUndefined();
  });
});
