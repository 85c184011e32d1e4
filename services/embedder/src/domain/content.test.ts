import { create } from '@bufbuild/protobuf';
import { CallContentSchema, Role } from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { clipFairly, varyingText } from './content.js';

describe('clipFairly', () => {
  it('keeps everything within the budget', () => {
    expect(clipFairly(['ab', 'cd'], 4)).toEqual(['ab', 'cd']);
  });

  it('keeps short parts whole and shares what is left among the long ones', () => {
    const long = 'x'.repeat(100);
    expect(clipFairly(['short', long, long], 25).map((part) => part.length)).toEqual([5, 10, 10]);
    expect(clipFairly(['abcdef', 'ghijkl'], 6)).toEqual(['abc', 'ghi']);
  });
});

describe('varyingText', () => {
  const text = (value: string) => ({ kind: { case: 'text' as const, value: { text: value } } });
  const content = create(CallContentSchema, {
    inputMessages: [
      { role: Role.SYSTEM, parts: [text('You are a support agent.')] },
      { role: Role.USER, parts: [text('Where is my order?')] },
      { role: Role.ASSISTANT, parts: [text('Let me look.')] },
      {
        role: Role.TOOL,
        parts: [
          { kind: { case: 'toolCallResponse', value: { id: 't', response: 'y'.repeat(500) } } },
        ],
      },
    ],
  });

  it('keeps the users and tool results, not the template or the model', () => {
    expect(varyingText(content)).toBe(`Where is my order?\n${'y'.repeat(500)}`);
  });

  it('does not let a long tool result push the request out', () => {
    expect(varyingText(content, 60)).toBe(`Where is my order?\n${'y'.repeat(42)}`);
  });
});
