import { beforeAll, describe, expect, it } from 'vitest';
import { dot } from '../domain/vectors.js';
import { embedderPython } from '../testing/python.int.js';
import { OnnxBackend } from './onnx-backend.js';

/** all-MiniLM-L6-v2 (int8 ONNX from PyPI, see src/testing/python.int.ts) run by transformers.js. */
describe('OnnxBackend with all-MiniLM-L6-v2', () => {
  let backend: OnnxBackend;

  beforeAll(async () => {
    const { minilmDir } = await embedderPython();
    backend = new OnnxBackend({
      modelDir: minilmDir,
      modelName: 'all-MiniLM-L6-v2',
      dtype: 'q8',
      maxTokens: 256,
      runTokens: 512,
      pooling: 'mean',
      threads: 2,
    });
    await backend.init();
    return () => backend.close();
  });

  it('puts paraphrases together and other tasks apart', async () => {
    const [reset, forgot, haiku] = await backend.embed([
      'How do I reset my password?',
      'I forgot my password, how can I change it?',
      'Write a haiku about autumn leaves on a pond',
    ]);
    expect(backend.model).toBe('all-MiniLM-L6-v2');
    expect(backend.backend).toBe('onnxruntime-node-q8');
    expect(reset).toHaveLength(384);
    expect(dot(reset!, reset!)).toBeCloseTo(1, 5);
    expect(dot(reset!, forgot!)).toBeGreaterThan(0.6);
    expect(dot(reset!, haiku!)).toBeLessThan(0.2);
  });

  it('embeds a text alike alone or padded in a batch', async () => {
    const texts = ['short', 'a much longer sentence about invoices, totals and due dates'];
    const [alone] = await backend.embed([texts[0]!]);
    const [batched] = await backend.embed(texts);
    expect(dot(alone!, batched!)).toBeGreaterThan(0.9999);
  });

  it('reads no further than maxTokens', async () => {
    const long = 'the quick brown fox jumps over the lazy dog '.repeat(60);
    const [a, b] = await backend.embed([long, `${long} and then something else entirely`]);
    expect(dot(a!, b!)).toBeGreaterThan(0.9999);
  });
});
