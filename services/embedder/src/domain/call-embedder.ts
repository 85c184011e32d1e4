import { create } from '@bufbuild/protobuf';
import {
  EmbeddingSchema,
  type Embedding,
  type LlmCall,
  type OutputShape,
  type StructuralSignature,
} from '@understudy/contracts';
import { UnderstudyError } from '@understudy/errors';
import { contentOf, type ContentKeyring } from '@understudy/tenancy';
import { topTerms } from '@understudy/text';
import type { EmbeddingBackend } from '../drivers/embedding-backend.js';
import { Batcher } from './batcher.js';
import { varyingText } from './content.js';
import { normalizeText } from './featurizer.js';
import { sha256Hex } from './hashing.js';
import { EmbedderInstruments } from './instruments.js';
import { LruCache } from './lru-cache.js';
import { outputShape } from './output-shape.js';
import { structuralSignature } from './signature.js';

/** Terms per call, as the contract bounds them. */
const termsPerCall = 32;

export interface CallEmbedderOptions {
  /** Embeddings kept by content hash; identical prompts are embedded once. */
  readonly cacheSize: number;
  /** Most texts in one backend call. */
  readonly maxBatchSize: number;
  /** Backend calls in flight at once. */
  readonly concurrency: number;
  /** Longest text embedded, in characters; longer varying text is clipped part by part. */
  readonly maxInputChars: number;
}

export interface CallDerivation {
  readonly signature: StructuralSignature;
  /** Absent when the call has no varying text to embed. */
  readonly embedding?: Embedding;
  /** SHA-256 of the normalised text embedded; empty without an embedding. */
  readonly contentHash: string;
  /** The embedded text's most frequent terms, most frequent first; empty without an embedding. */
  readonly terms: string[];
  /** The answer's form; absent when the call has no content or no answer. */
  readonly output?: OutputShape;
}

/**
 * Derives what the clusterer compares calls by: the structural signature of every call, an
 * embedding of the text that varies within a task with the terms that can label it, and the
 * shape of the answer. One code path serves captured calls (Kafka) and live ones (gRPC), so both
 * land in the same space. Texts are embedded once per content hash (an LRU cache, and one request
 * for twins in flight) and in batches. Encrypted content is opened with the keyring, in memory
 * only, so an encrypted call derives exactly what its plain twin would.
 */
export class CallEmbedder {
  private readonly cache: LruCache<string, Float32Array>;
  private readonly inFlight = new Map<string, Promise<Float32Array>>();
  private readonly batcher: Batcher<string, Float32Array>;
  private readonly instruments = new EmbedderInstruments();

  /** Without a keyring, deriving from a call with encrypted content fails (non-retryable). */
  constructor(
    private readonly backend: EmbeddingBackend,
    private readonly options: CallEmbedderOptions,
    private readonly keyring?: ContentKeyring,
  ) {
    this.cache = new LruCache(options.cacheSize);
    this.batcher = new Batcher((texts) => this.embedBatch(texts), {
      maxBatchSize: options.maxBatchSize,
      concurrency: options.concurrency,
      onBatch: (size) => {
        this.instruments.batchSize.record(size);
      },
    });
  }

  get model(): string {
    return this.backend.model;
  }

  async derive(call: LlmCall): Promise<CallDerivation> {
    const started = performance.now();
    try {
      const content = contentOf(call, this.keyring);
      const signature = structuralSignature(call, content);
      const output = outputShape(content);
      const varying = content === undefined ? '' : varyingText(content, this.options.maxInputChars);
      const text = normalizeText(varying);
      if (text === '') return { signature, contentHash: '', terms: [], ...(output && { output }) };
      const contentHash = sha256Hex(text);
      const values = await this.embed(contentHash, text);
      const embedding = create(EmbeddingSchema, {
        values: Array.from(values),
        dimension: values.length,
        model: this.backend.model,
        backend: this.backend.backend,
        normalized: true,
      });
      const terms = topTerms(
        withoutPlaceholders(varying, call.redaction?.placeholders ?? []),
        termsPerCall,
      );
      return { signature, embedding, contentHash, terms, ...(output && { output }) };
    } finally {
      this.instruments.deriveDuration.record((performance.now() - started) / 1000);
    }
  }

  private embed(contentHash: string, text: string): Promise<Float32Array> {
    const known = this.cache.get(contentHash) ?? this.inFlight.get(contentHash);
    this.instruments.embeddings.add(1, { 'understudy.cache.hit': known !== undefined });
    if (known !== undefined) return Promise.resolve(known);
    const pending = this.batcher
      .submit(text)
      .then((values) => {
        this.cache.set(contentHash, values);
        return values;
      })
      .finally(() => this.inFlight.delete(contentHash));
    this.inFlight.set(contentHash, pending);
    return pending;
  }

  private async embedBatch(texts: readonly string[]): Promise<Float32Array[]> {
    const started = performance.now();
    let outcome = 'ok';
    try {
      return await this.backend.embed(texts);
    } catch (error) {
      outcome = UnderstudyError.from(error).code;
      throw error;
    } finally {
      this.instruments.backendDuration.record((performance.now() - started) / 1000, {
        'understudy.embedder.backend': this.backend.backend,
        'understudy.outcome': outcome,
      });
    }
  }
}

/**
 * The text without the collector's redaction placeholders (`<EMAIL_3f9a2c1b>`): they stand for
 * no word of the task, and the letters of their hashes would read as words.
 */
function withoutPlaceholders(text: string, placeholders: readonly string[]): string {
  return placeholders.reduce((rest, placeholder) => rest.replaceAll(placeholder, ' '), text);
}
