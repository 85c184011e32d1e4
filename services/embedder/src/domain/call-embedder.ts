import { create } from '@bufbuild/protobuf';
import { metrics, type Counter, type Histogram } from '@opentelemetry/api';
import {
  EmbeddingSchema,
  type Embedding,
  type LlmCall,
  type StructuralSignature,
} from '@understudy/contracts';
import { contentOf, type ContentKeyring } from '@understudy/tenancy';
import { varyingText } from './content.js';
import { Featurizer, normalizeText, type FeaturizerOptions } from './featurizer.js';
import { sha256Hex } from './hashing.js';
import { LruCache } from './lru-cache.js';
import { structuralSignature } from './signature.js';

export interface CallEmbedderOptions extends FeaturizerOptions {
  /** Embeddings kept by content hash; identical prompts are embedded once. */
  readonly cacheSize: number;
}

export interface CallDerivation {
  readonly signature: StructuralSignature;
  /** Absent when the call has no varying text to embed. */
  readonly embedding?: Embedding;
  /** SHA-256 of the normalised text embedded; empty without an embedding. */
  readonly contentHash: string;
}

const backend = 'understudy-cpu';

/**
 * Derives what the clusterer compares calls by: the structural signature of every call, and an
 * embedding of the text that varies within a task. One code path serves captured calls (Kafka)
 * and live ones (gRPC), so both land in the same space. Encrypted content is opened with the
 * keyring, in memory only, so an encrypted call derives exactly what its plain twin would.
 */
export class CallEmbedder {
  private readonly featurizer: Featurizer;
  private readonly cache: LruCache<string, Float32Array>;
  private readonly embeddings: Counter;
  private readonly duration: Histogram;

  /** Without a keyring, deriving from a call with encrypted content fails (non-retryable). */
  constructor(
    options: CallEmbedderOptions,
    private readonly keyring?: ContentKeyring,
  ) {
    this.featurizer = new Featurizer(options);
    this.cache = new LruCache(options.cacheSize);
    const meter = metrics.getMeter('understudy.embedder');
    this.embeddings = meter.createCounter('understudy.embedder.embeddings', {
      description: 'Embeddings produced, by whether the content-hash cache answered',
      unit: '{embedding}',
    });
    this.duration = meter.createHistogram('understudy.embedder.derive.duration', {
      description: 'Time to derive a signature and embedding for one call',
      unit: 's',
    });
  }

  get model(): string {
    return this.featurizer.model;
  }

  derive(call: LlmCall): CallDerivation {
    const started = performance.now();
    const content = contentOf(call, this.keyring);
    const signature = structuralSignature(call, content);
    const text = content === undefined ? '' : normalizeText(varyingText(content));
    if (text === '') {
      this.duration.record((performance.now() - started) / 1000);
      return { signature, contentHash: '' };
    }
    const contentHash = sha256Hex(text);
    let values = this.cache.get(contentHash);
    const cached = values !== undefined;
    if (values === undefined) {
      values = this.featurizer.embed(text);
      this.cache.set(contentHash, values);
    }
    this.embeddings.add(1, { 'understudy.cache.hit': cached });
    this.duration.record((performance.now() - started) / 1000);
    const embedding = create(EmbeddingSchema, {
      values: Array.from(values),
      dimension: values.length,
      model: this.featurizer.model,
      backend,
      normalized: true,
    });
    return { signature, embedding, contentHash };
  }
}
