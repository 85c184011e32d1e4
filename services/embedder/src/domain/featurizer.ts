import { hash32, mix32 } from './hashing.js';

export interface FeaturizerOptions {
  /** Length of the dense vector. */
  readonly dimension: number;
  /** Seeds the feature hashes and the projection; vectors of different seeds never compare. */
  readonly seed: number;
}

/** Size of the sparse feature space; large enough that distinct n-grams rarely collide. */
const hashSpace = 1 << 20;
/** Non-zero entries per row of the sparse random projection (each +1 or −1). */
const projectionDensity = 8;

/**
 * A model-free text embedding for CPU: hashed word unigrams and bigrams (what the text says) and
 * character 3–5-grams inside words (robust to inflections, typos and ids), each family weighted
 * by sublinear TF (1 + ln tf) and L2-normalised so that neither dominates, then projected to a
 * dense vector by a seeded sparse random projection and L2-normalised again, so that cosine
 * similarity is a dot product. No IDF: weights learned online would drift, and vectors computed
 * at different times would stop comparing; the fixed scheme keeps every vector comparable.
 */
export class Featurizer {
  readonly model: string;

  constructor(private readonly options: FeaturizerOptions) {
    this.model = `understudy-ngram-hash-v1-d${String(options.dimension)}-s${String(options.seed)}`;
  }

  embed(text: string): Float32Array {
    const words = normalizeText(text).match(/[\p{L}\p{N}]+/gu) ?? [];
    const wordFeatures = new Map<number, number>();
    const charFeatures = new Map<number, number>();
    words.forEach((word, i) => {
      this.count(wordFeatures, `w:${word}`);
      const next = words[i + 1];
      if (next !== undefined) this.count(wordFeatures, `b:${word} ${next}`);
      const padded = `<${word}>`;
      for (let n = 3; n <= 5; n++) {
        for (let start = 0; start + n <= padded.length; start++) {
          this.count(charFeatures, `c:${padded.slice(start, start + n)}`);
        }
      }
    });
    const vector = new Float32Array(this.options.dimension);
    this.project(wordFeatures, vector);
    this.project(charFeatures, vector);
    return normalize(vector);
  }

  private count(features: Map<number, number>, feature: string): void {
    const index = hash32(feature, this.options.seed) % hashSpace;
    features.set(index, (features.get(index) ?? 0) + 1);
  }

  /** Adds the family's L2-normalised, log-scaled counts, projected, to `vector`. */
  private project(features: Map<number, number>, vector: Float32Array): void {
    let norm = 0;
    for (const tf of features.values()) norm += (1 + Math.log(tf)) ** 2;
    if (norm === 0) return;
    const scale = 1 / Math.sqrt(norm);
    const { dimension, seed } = this.options;
    for (const [index, tf] of features) {
      const weight = (1 + Math.log(tf)) * scale;
      for (let j = 0; j < projectionDensity; j++) {
        const bits = mix32(Math.imul(index, projectionDensity) + j + seed);
        const column = (bits >>> 1) % dimension;
        vector[column] = (vector[column] ?? 0) + (bits & 1 ? weight : -weight);
      }
    }
  }
}

/** The text as embedded and hashed: Unicode-normalised, lowercase, whitespace collapsed. */
export function normalizeText(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ').trim();
}

/** Cosine similarity of two unit vectors. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) sum += (a[i] ?? 0) * (b[i] ?? 0);
  return sum;
}

function normalize(vector: Float32Array): Float32Array {
  const norm = Math.sqrt(dot(vector, vector));
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] ?? 0) / norm;
  return vector;
}
