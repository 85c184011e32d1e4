import { ErrorCode } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { encrypted, llmCall, testKeyring } from '../testing/calls.js';
import { CallEmbedder } from './call-embedder.js';
import { dot } from './featurizer.js';

const embedder = () => new CallEmbedder({ dimension: 128, seed: 7, cacheSize: 2 });

describe('CallEmbedder', () => {
  it('embeds the user content and tool results, not the template', () => {
    const derive = embedder();
    const a = derive.derive(
      llmCall({ system: 'You are a poet. Always rhyme.', user: 'Tell me about cats' }),
    );
    const b = derive.derive(
      llmCall({ system: 'You translate legal contracts into French.', user: 'Tell me about cats' }),
    );
    expect(a.contentHash).toBe(b.contentHash);
    expect(a.embedding?.values).toEqual(b.embedding?.values);
    expect(a.signature.digest).not.toBe(b.signature.digest);
    expect(a.embedding).toMatchObject({
      dimension: 128,
      model: 'understudy-ngram-hash-v1-d128-s7',
      backend: 'understudy-cpu',
      normalized: true,
    });

    const withTool = derive.derive(
      llmCall({ user: 'Tell me about cats', toolResult: '{"breed":"siamese"}' }),
    );
    expect(withTool.contentHash).not.toBe(a.contentHash);
    expect(dot(withTool.embedding?.values ?? [], a.embedding?.values ?? [])).toBeLessThan(0.99);
  });

  it('gives calls without content the signature only', () => {
    const derived = embedder().derive(llmCall({}));
    expect(derived.embedding).toBeUndefined();
    expect(derived.contentHash).toBe('');
    expect(derived.signature.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('answers repeated content from the cache with the same vector', () => {
    const derive = embedder();
    const first = derive.derive(llmCall({ user: 'same prompt' }));
    derive.derive(llmCall({ user: 'other one' }));
    derive.derive(llmCall({ user: 'third, evicting nothing used recently' }));
    expect(derive.derive(llmCall({ user: 'same prompt' })).embedding?.values).toEqual(
      first.embedding?.values,
    );
  });

  it('derives from encrypted content exactly what it derives from the plain content', () => {
    const { keyring } = testKeyring('tenant-a');
    const call = llmCall({ system: 'Triage ticket 12.', user: 'Printer on fire', tools: ['page'] });
    const plain = embedder().derive(call);
    const opened = new CallEmbedder({ dimension: 128, seed: 7, cacheSize: 2 }, keyring).derive(
      encrypted(call, keyring),
    );
    expect(opened.contentHash).toBe(plain.contentHash);
    expect(opened.embedding?.values).toEqual(plain.embedding?.values);
    expect(opened.signature.digest).toBe(plain.signature.digest);
    expect(opened.signature.toolNames).toEqual(['page']);
  });

  it('refuses encrypted content without a keyring instead of deriving a wrong signature', () => {
    const call = encrypted(llmCall({ user: 'Printer on fire' }), testKeyring('tenant-a').keyring);
    expect(() => embedder().derive(call)).toThrow(
      expect.objectContaining({ code: ErrorCode.FailedPrecondition, retryable: false }),
    );
    expect(() => embedder().derive(call)).toThrow(/UNDERSTUDY_CONTENT_KEYS_FILE/);
  });
});
