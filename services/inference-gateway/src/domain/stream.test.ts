import { describe, expect, it } from 'vitest';
import { ChunkAccumulator, SseReader } from './stream.js';

describe('SseReader', () => {
  it('yields the data of events however the bytes are split', () => {
    const reader = new SseReader();
    const text = 'data: {"a":1}\n\n: comment\n\ndata: [DONE]\r\n\r\n';
    const seen = Array.from(text, (char) => reader.feed(char)).flat();
    expect(seen).toEqual(['{"a":1}', '[DONE]']);
  });
});

describe('ChunkAccumulator', () => {
  it('folds content, tool call fragments, finish reasons and usage into one completion', () => {
    const acc = new ChunkAccumulator();
    acc.add({ id: 'c1', model: 'm', choices: [{ index: 0, delta: { role: 'assistant' } }] });
    acc.add({ choices: [{ index: 0, delta: { content: 'Hel' } }] });
    acc.add({ choices: [{ index: 0, delta: { content: 'lo' } }] });
    acc.add({
      choices: [
        {
          index: 0,
          delta: {
            tool_calls: [{ index: 0, id: 'call_1', function: { name: 'get_', arguments: '{"q"' } }],
          },
        },
      ],
    });
    acc.add({
      choices: [
        {
          index: 0,
          delta: { tool_calls: [{ index: 0, function: { name: 'x', arguments: ':1}' } }] },
        },
      ],
    });
    acc.add({ choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] });
    acc.add({ choices: [], usage: { prompt_tokens: 7, completion_tokens: 3 } });
    expect(acc.completion()).toEqual({
      id: 'c1',
      model: 'm',
      choices: [
        {
          message: {
            role: 'assistant',
            content: 'Hello',
            tool_calls: [
              { id: 'call_1', type: 'function', function: { name: 'get_x', arguments: '{"q":1}' } },
            ],
          },
          finish_reason: 'tool_calls',
        },
      ],
      usage: { prompt_tokens: 7, completion_tokens: 3 },
    });
  });
});
