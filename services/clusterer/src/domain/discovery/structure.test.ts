import { ResponseFormatType } from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { signature } from '../../testing/vectors.js';
import { isOpenEnded, placeKey, structureKey } from './structure.js';

describe('structure', () => {
  it('keys the contract (tools, format, schema), not the template nor the caller', () => {
    const base = signature('a', { agentName: 'billing', toolNames: ['refund', 'lookup'] });
    expect(
      structureKey(
        signature('b', { agentName: 'other', stepName: 'x', toolNames: ['lookup', 'refund'] }),
      ),
    ).toBe(structureKey(base));
    expect(structureKey(signature('c', { toolNames: ['lookup'] }))).not.toBe(structureKey(base));
    expect(
      structureKey(
        signature('d', {
          toolNames: ['lookup', 'refund'],
          responseFormat: ResponseFormatType.JSON_OBJECT,
        }),
      ),
    ).not.toBe(structureKey(base));
    const schema = (hash: string) =>
      structureKey(
        signature(hash, {
          responseFormat: ResponseFormatType.JSON_SCHEMA,
          responseSchemaHash: hash,
        }),
      );
    expect(schema('s1')).not.toBe(schema('s2'));
  });

  it('keys the place by agent, step and output format, whatever the tools', () => {
    expect(placeKey(signature('a', { toolNames: ['t'] }))).toBe(placeKey(signature('b')));
    expect(placeKey(signature('a', { stepName: 'other' }))).not.toBe(placeKey(signature('b')));
  });

  it('calls a signature open-ended when free text comes from no named step', () => {
    expect(isOpenEnded(signature('a', { stepName: '' }))).toBe(true);
    expect(
      isOpenEnded(signature('a', { stepName: '', responseFormat: ResponseFormatType.UNSPECIFIED })),
    ).toBe(true);
    expect(isOpenEnded(signature('a', { stepName: 'summarize' }))).toBe(false);
    expect(
      isOpenEnded(signature('a', { stepName: '', responseFormat: ResponseFormatType.JSON_OBJECT })),
    ).toBe(false);
    expect(
      isOpenEnded(signature('a', { stepName: '', responseFormat: ResponseFormatType.JSON_SCHEMA })),
    ).toBe(false);
  });
});
