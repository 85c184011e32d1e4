import { ErrorCode } from '@understudy/errors';
import { MetricsProbe } from '@understudy/telemetry/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dot } from '../domain/vectors.js';
import { FakeOpenAi, embeddingsReply, failure, fakeVector } from '../testing/fake-openai.js';
import { OpenAiBackend, type OpenAiBackendOptions } from './openai-backend.js';

describe('OpenAiBackend', () => {
  let fake: FakeOpenAi;
  let probe: MetricsProbe;
  const backendFor = (options: Partial<OpenAiBackendOptions> = {}) =>
    new OpenAiBackend({
      baseUrl: fake.baseUrl,
      model: 'e5-small',
      maxInputs: 4,
      concurrency: 2,
      timeoutMs: 1_000,
      attempts: 3,
      baseDelayMs: 10,
      maxDelayMs: 50,
      ...options,
    });

  beforeEach(async () => {
    probe = MetricsProbe.install('understudy.embedder');
    fake = await FakeOpenAi.start();
  });
  afterEach(async () => {
    await fake.stop();
    probe.uninstall();
  });

  it('sends batches of at most maxInputs, concurrency requests at a time, and keeps the order', async () => {
    const texts = Array.from({ length: 10 }, (_, i) => 'x'.repeat(i + 1));
    const vectors = await backendFor({ apiKey: 'k-1' }).embed(texts);

    expect(fake.requests.map((request) => request.input.length)).toEqual([4, 4, 2]);
    expect(fake.maxInFlight).toBe(2);
    expect(fake.requests[0]).toMatchObject({
      model: 'e5-small',
      encoding_format: 'float',
      authorization: 'Bearer k-1',
    });
    expect(vectors).toHaveLength(10);
    vectors.forEach((vector, i) => {
      const expected = fakeVector(texts[i] ?? '');
      const norm = Math.hypot(...expected);
      expect(Array.from(vector)).toEqual(expected.map((value) => Math.fround(value / norm)));
      expect(dot(vector, vector)).toBeCloseTo(1, 5);
    });
  });

  it('retries 429 and 5xx with backoff, honouring Retry-After, and counts the retries', async () => {
    fake.answer(failure(429, { 'retry-after': '0.05' }), failure(503), embeddingsReply);
    const started = Date.now();
    const [vector] = await backendFor().embed(['hello']);

    expect(vector).toHaveLength(4);
    expect(fake.requests).toHaveLength(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
    const retries = await probe.points('understudy.embedder.backend.retries');
    expect(
      retries.map((point) => [point.attributes['understudy.embedder.retry.reason'], point.value]),
    ).toEqual([
      ['429', 1],
      ['503', 1],
    ]);
  });

  it('gives up after its attempts with a retryable error naming the status', async () => {
    fake.answer(failure(500), failure(502), failure(500));
    await expect(backendFor().embed(['a'])).rejects.toMatchObject({
      code: ErrorCode.Unavailable,
      retryable: true,
      message: expect.stringContaining('answered 500: fake failure 500') as string,
    });
    expect(fake.requests).toHaveLength(3);

    fake.answer(failure(429), failure(429), failure(429));
    await expect(backendFor().embed(['a'])).rejects.toMatchObject({
      code: ErrorCode.ResourceExhausted,
      retryable: true,
    });
  });

  it('times out a slow attempt and tries again', async () => {
    fake.answer((request) => ({ ...embeddingsReply(request), delayMs: 500 }));
    const vectors = await backendFor({ timeoutMs: 100 }).embed(['slow', 'ok']);
    expect(vectors).toHaveLength(2);
    expect(fake.requests).toHaveLength(2);

    fake.answer(
      ...Array.from({ length: 2 }, () => (r: Parameters<typeof embeddingsReply>[0]) => ({
        ...embeddingsReply(r),
        delayMs: 500,
      })),
    );
    await expect(backendFor({ timeoutMs: 100, attempts: 2 }).embed(['slow'])).rejects.toMatchObject(
      {
        code: ErrorCode.DeadlineExceeded,
        retryable: true,
      },
    );
  });

  it('does not retry what the server refuses', async () => {
    fake.answer(failure(400), failure(401), failure(404));
    for (const code of [ErrorCode.InvalidArgument, ErrorCode.Unauthenticated, ErrorCode.NotFound]) {
      await expect(backendFor().embed(['a'])).rejects.toMatchObject({ code, retryable: false });
    }
    expect(fake.requests).toHaveLength(3);
  });

  it('refuses an answer with the wrong number of embeddings', async () => {
    fake.answer({ status: 200, body: { data: [{ index: 0, embedding: [1, 0] }] } });
    await expect(backendFor().embed(['a', 'b'])).rejects.toMatchObject({
      code: ErrorCode.Internal,
      message: expect.stringContaining('1 embeddings for 2 inputs') as string,
    });
  });

  it('fails fast, retryable, when nothing listens', async () => {
    await fake.stop();
    await expect(backendFor({ attempts: 2 }).embed(['a'])).rejects.toMatchObject({
      code: ErrorCode.Unavailable,
      retryable: true,
    });
    fake = await FakeOpenAi.start();
  });

  it('decodes base64 embeddings from servers that ignore encoding_format', async () => {
    const bytes = Buffer.from(new Float32Array([3, 4]).buffer);
    fake.answer({
      status: 200,
      body: { data: [{ index: 0, embedding: bytes.toString('base64') }] },
    });
    const [vector] = await backendFor().embed(['a']);
    expect(Array.from(vector ?? [])).toEqual([Math.fround(0.6), Math.fround(0.8)]);
  });

  it('asks for shorter vectors and says so in the model name', async () => {
    const backend = backendFor({ dimensions: 128 });
    await backend.embed(['a']);
    expect(fake.requests[0]?.dimensions).toBe(128);
    expect(backend.model).toBe('e5-small-d128');
  });
});
