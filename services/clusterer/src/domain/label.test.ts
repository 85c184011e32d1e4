import { create } from '@bufbuild/protobuf';
import { ResponseFormatType, StructuralSignatureSchema } from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { labelOf } from './label.js';

describe('labelOf', () => {
  it('names the agent, step, tools and output format', () => {
    const signature = create(StructuralSignatureSchema, {
      digest: 'abcdef0123',
      agentName: 'billing',
      stepName: 'extract',
      toolNames: ['lookup', 'refund'],
      responseFormat: ResponseFormatType.JSON_OBJECT,
    });
    expect(labelOf(signature)).toEqual({
      label: 'billing / extract · tools: lookup, refund · answers JSON',
      keywords: ['billing', 'extract', 'lookup', 'refund'],
    });
  });

  it('falls back to the digest when the call names no agent', () => {
    const signature = create(StructuralSignatureSchema, { digest: 'abcdef0123' });
    expect(labelOf(signature)).toEqual({ label: 'signature abcdef01', keywords: [] });
  });
});
