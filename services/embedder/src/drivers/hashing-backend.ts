import { Featurizer, type FeaturizerOptions } from '../domain/featurizer.js';
import type { EmbeddingBackend } from './embedding-backend.js';

/** The model-free featurizer, in process: no model to load, nothing to call. */
export class HashingBackend implements EmbeddingBackend {
  readonly backend = 'understudy-cpu';
  private readonly featurizer: Featurizer;

  constructor(options: FeaturizerOptions) {
    this.featurizer = new Featurizer(options);
  }

  get model(): string {
    return this.featurizer.model;
  }

  init(): Promise<void> {
    return Promise.resolve();
  }

  embed(texts: readonly string[]): Promise<Float32Array[]> {
    return Promise.resolve(texts.map((text) => this.featurizer.embed(text)));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
