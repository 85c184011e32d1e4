import { create } from '@bufbuild/protobuf';
import { RedactionReportSchema } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { MetricsProbe } from '@understudy/telemetry/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EmbeddingBackend } from '../drivers/embedding-backend.js';
import { HashingBackend } from '../drivers/hashing-backend.js';
import { encrypted, llmCall, testKeyring } from '../testing/calls.js';
import { CallEmbedder, type CallEmbedderOptions } from './call-embedder.js';
import { dot } from './vectors.js';

const options: CallEmbedderOptions = {
  cacheSize: 2,
  maxBatchSize: 3,
  concurrency: 1,
  maxInputChars: 4_000,
};
const hashing = () => new HashingBackend({ dimension: 128, seed: 7 });
const embedder = () => new CallEmbedder(hashing(), options);

/** The hashing backend, recording the batches it was given; `failing` makes it throw. */
class RecordingBackend implements EmbeddingBackend {
  readonly model = 'recording';
  readonly backend = 'test';
  readonly batches: string[][] = [];
  failing: UnderstudyError | undefined;
  private readonly inner = hashing();
  init = () => Promise.resolve();
  close = () => Promise.resolve();
  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    this.batches.push([...texts]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (this.failing !== undefined) throw this.failing;
    return this.inner.embed(texts);
  }
}

describe('CallEmbedder', () => {
  let probe: MetricsProbe;
  beforeEach(() => {
    probe = MetricsProbe.install('understudy.embedder');
  });
  afterEach(() => {
    probe.uninstall();
  });

  it('embeds the user content and tool results, not the template', async () => {
    const derive = embedder();
    const a = await derive.derive(
      llmCall({ system: 'You are a poet. Always rhyme.', user: 'Tell me about cats' }),
    );
    const b = await derive.derive(
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

    const withTool = await derive.derive(
      llmCall({ user: 'Tell me about cats', toolResult: '{"breed":"siamese"}' }),
    );
    expect(withTool.contentHash).not.toBe(a.contentHash);
    expect(dot(withTool.embedding?.values ?? [], a.embedding?.values ?? [])).toBeLessThan(0.99);
  });

  it('labels the embedded text with its most frequent terms, redaction placeholders left out', async () => {
    const call = llmCall({
      system: 'You triage support tickets.',
      user: 'Refund my order <EMAIL_3fabcdef>: the order never arrived, refund it',
      toolResult: '{"order":"shipped","carrier":"DHL"}',
    });
    call.redaction = create(RedactionReportSchema, {
      redactorVersion: 'understudy-pii@1.0.0',
      entityCounts: { EMAIL: 1 },
      placeholders: ['<EMAIL_3fabcdef>'],
    });
    const derived = await embedder().derive(call);
    expect(derived.terms).toEqual([
      'order',
      'refund',
      'never',
      'arrived',
      'shipped',
      'carrier',
      'dhl',
    ]);

    const words = Array.from(
      { length: 40 },
      (_, i) => `q${String.fromCharCode(97 + Math.floor(i / 26), 97 + (i % 26))}`,
    );
    const many = await embedder().derive(llmCall({ user: words.join(' ') }));
    expect(many.terms).toEqual(words.slice(0, 32));
  });

  it('gives the answer its shape, embedded text or not', async () => {
    const answered = await embedder().derive(
      llmCall({ user: 'Printer on fire', answers: [{ text: '{"queue":"facilities"}' }] }),
    );
    expect(answered.output).toMatchObject({ json: true, toolCall: false, choices: 1 });
    expect(answered.output?.digest).toMatch(/^[0-9a-f]{64}$/);

    const onlyAnswer = await embedder().derive(llmCall({ answers: [{ text: 'Done.' }] }));
    expect(onlyAnswer).toMatchObject({ contentHash: '', terms: [] });
    expect(onlyAnswer.embedding).toBeUndefined();
    expect(onlyAnswer.output).toMatchObject({ json: false, toolCall: false, choices: 1 });
  });

  it('gives calls without content the signature only', async () => {
    const derived = await embedder().derive(llmCall({}));
    expect(derived.embedding).toBeUndefined();
    expect(derived.contentHash).toBe('');
    expect(derived.terms).toEqual([]);
    expect(derived.output).toBeUndefined();
    expect(derived.signature.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('answers repeated content from the cache, and twins in flight with one request', async () => {
    const backend = new RecordingBackend();
    const derive = new CallEmbedder(backend, options);
    const first = await derive.derive(llmCall({ user: 'same prompt' }));
    await derive.derive(llmCall({ user: 'other one' }));
    const again = await derive.derive(llmCall({ user: 'same prompt' }));
    expect(again.embedding?.values).toEqual(first.embedding?.values);
    expect(backend.batches).toEqual([['same prompt'], ['other one']]);

    await Promise.all([1, 2, 3].map(() => derive.derive(llmCall({ user: 'new twin' }))));
    expect(backend.batches.at(-1)).toEqual(['new twin']);
    expect(backend.batches).toHaveLength(3);

    const hits = await probe.points('understudy.embedder.embeddings');
    const count = (hit: boolean) =>
      hits.find((point) => point.attributes['understudy.cache.hit'] === hit)?.value;
    expect([count(true), count(false)]).toEqual([3, 3]);
  });

  it('batches calls that arrive together, up to the batch size, and measures the batches', async () => {
    const backend = new RecordingBackend();
    const derive = new CallEmbedder(backend, options);
    const users = ['one', 'two', 'three', 'four', 'five'];
    const derived = await Promise.all(users.map((user) => derive.derive(llmCall({ user }))));

    expect(backend.batches).toEqual([
      ['one', 'two', 'three'],
      ['four', 'five'],
    ]);
    const sizes = await probe.histogram('understudy.embedder.batch.size');
    expect(sizes[0]?.value).toMatchObject({ count: 2, sum: 5 });
    const durations = await probe.histogram('understudy.embedder.backend.duration');
    expect(durations[0]?.attributes).toEqual({
      'understudy.embedder.backend': 'test',
      'understudy.outcome': 'ok',
    });
    const alone = await new CallEmbedder(hashing(), options).derive(llmCall({ user: 'four' }));
    expect(derived[3]?.embedding?.values).toEqual(alone.embedding?.values);
  });

  it('passes a backend failure on, to every call of the batch, and caches nothing', async () => {
    const backend = new RecordingBackend();
    backend.failing = new UnderstudyError(ErrorCode.Unavailable, 'server down');
    const derive = new CallEmbedder(backend, options);
    const results = await Promise.allSettled(
      ['a', 'b'].map((user) => derive.derive(llmCall({ user }))),
    );
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(results[0]).toMatchObject({ reason: { code: ErrorCode.Unavailable, retryable: true } });

    backend.failing = undefined;
    expect((await derive.derive(llmCall({ user: 'a' }))).embedding?.dimension).toBe(128);
    expect(backend.batches).toEqual([['a', 'b'], ['a']]);
    const durations = await probe.histogram('understudy.embedder.backend.duration');
    expect(durations.map((point) => point.attributes['understudy.outcome'])).toEqual([
      'UNAVAILABLE',
      'ok',
    ]);
  });

  it('derives from encrypted content exactly what it derives from the plain content', async () => {
    const { keyring } = testKeyring('tenant-a');
    const call = llmCall({
      system: 'Triage ticket 12.',
      user: 'Printer on fire',
      tools: ['page'],
      answers: [{ toolCalls: [{ name: 'page', arguments: '{"team":"facilities"}' }] }],
    });
    const plain = await embedder().derive(call);
    const opened = await new CallEmbedder(hashing(), options, keyring).derive(
      encrypted(call, keyring),
    );
    expect(opened.contentHash).toBe(plain.contentHash);
    expect(opened.embedding?.values).toEqual(plain.embedding?.values);
    expect(opened.signature.digest).toBe(plain.signature.digest);
    expect(opened.signature.toolNames).toEqual(['page']);
    expect(opened.terms).toEqual(['printer', 'fire']);
    expect(opened.output).toMatchObject({ toolCall: true, choices: 1 });
    expect(opened.output).toEqual(plain.output);
  });

  it('refuses encrypted content without a keyring instead of deriving a wrong signature', async () => {
    const call = encrypted(llmCall({ user: 'Printer on fire' }), testKeyring('tenant-a').keyring);
    await expect(embedder().derive(call)).rejects.toMatchObject({
      code: ErrorCode.FailedPrecondition,
      retryable: false,
      message: expect.stringContaining('UNDERSTUDY_CONTENT_KEYS_FILE') as string,
    });
  });
});
