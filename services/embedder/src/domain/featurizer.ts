import { hash32, mix32 } from './hashing.js';
import type { IdfTable } from './idf.js';
import { normalize } from './vectors.js';

export interface FeaturizerOptions {
  /** Length of the dense vector. */
  readonly dimension: number;
  /** Seeds the feature hashes and the projection; vectors of different seeds never compare. */
  readonly seed: number;
  /**
   * Document frequencies frozen from a reference corpus; without one every feature weighs the
   * same. Its version is part of the model name, so vectors weighted by different tables never
   * compare.
   */
  readonly idf?: IdfTable;
}

/** Bump when the features or their hashing change: IDF tables record it and must match. */
export const featurizerVersion = 1;
/** Size of the sparse feature space; large enough that distinct n-grams rarely collide. */
export const hashSpace = 1 << 20;
/** Non-zero entries per row of the sparse random projection (each +1 or −1). */
const projectionDensity = 8;

/** Hashed feature index → term frequency, for the two families that are weighted apart. */
export interface FeatureCounts {
  readonly words: Map<number, number>;
  readonly chars: Map<number, number>;
}

/**
 * The sparse features of a text: word unigrams and bigrams (what the text says) and character
 * 3–5-grams inside words (robust to inflections, typos and ids), hashed into `hashSpace`.
 */
export function featuresOf(text: string, seed: number): FeatureCounts {
  const words = normalizeText(text).match(/[\p{L}\p{N}]+/gu) ?? [];
  const counts: FeatureCounts = { words: new Map(), chars: new Map() };
  const count = (family: Map<number, number>, feature: string) => {
    const index = hash32(feature, seed) % hashSpace;
    family.set(index, (family.get(index) ?? 0) + 1);
  };
  words.forEach((word, i) => {
    count(counts.words, `w:${word}`);
    const next = words[i + 1];
    if (next !== undefined) count(counts.words, `b:${word} ${next}`);
    const padded = `<${word}>`;
    for (let n = 3; n <= 5; n++) {
      for (let start = 0; start + n <= padded.length; start++) {
        count(counts.chars, `c:${padded.slice(start, start + n)}`);
      }
    }
  });
  return counts;
}

/**
 * A model-free text embedding for CPU: the hashed features of `featuresOf`, each weighted by
 * sublinear TF (1 + ln tf) times IDF when a table is given, each family L2-normalised so that
 * neither dominates, then projected to a dense vector by a seeded sparse random projection and
 * L2-normalised again, so that cosine similarity is a dot product. IDF is never learned online:
 * weights that drift would make vectors computed at different times incomparable; a frozen,
 * versioned table keeps every vector of one model name comparable.
 */
export class Featurizer {
  readonly model: string;
  private readonly weights: Float32Array | undefined;

  constructor(private readonly options: FeaturizerOptions) {
    const { dimension, seed, idf } = options;
    const shape = `d${String(dimension)}-s${String(seed)}`;
    this.model =
      idf === undefined
        ? `understudy-ngram-hash-v${String(featurizerVersion)}-${shape}`
        : `understudy-ngram-tfidf-v${String(featurizerVersion)}-${shape}-idf${idf.version}`;
    this.weights = idf?.weights(seed);
  }

  get dimension(): number {
    return this.options.dimension;
  }

  embed(text: string): Float32Array {
    const { words, chars } = featuresOf(text, this.options.seed);
    const vector = new Float32Array(this.options.dimension);
    this.project(words, vector);
    this.project(chars, vector);
    return normalize(vector);
  }

  /** Adds the family's weighted, L2-normalised counts, projected, to `vector`. */
  private project(features: Map<number, number>, vector: Float32Array): void {
    const weighted: [number, number][] = [];
    let norm = 0;
    for (const [index, tf] of features) {
      const weight = (1 + Math.log(tf)) * (this.weights?.[index] ?? 1);
      weighted.push([index, weight]);
      norm += weight * weight;
    }
    if (norm === 0) return;
    const scale = 1 / Math.sqrt(norm);
    const { dimension, seed } = this.options;
    for (const [index, weight] of weighted) {
      const scaled = weight * scale;
      for (let j = 0; j < projectionDensity; j++) {
        const bits = mix32(Math.imul(index, projectionDensity) + j + seed);
        const column = (bits >>> 1) % dimension;
        vector[column] = (vector[column] ?? 0) + (bits & 1 ? scaled : -scaled);
      }
    }
  }
}

/** The text as embedded and hashed: Unicode-normalised, lowercase, whitespace collapsed. */
export function normalizeText(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ').trim();
}
