import { createHash } from 'node:crypto';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { featuresOf, featurizerVersion, hashSpace } from './featurizer.js';

export interface IdfFitOptions {
  /** The featurizer's seed: feature indices, and so the table, depend on it. */
  readonly seed: number;
  /** Features in fewer documents are left out of the table and weigh as unseen ones. */
  readonly minDocumentFrequency?: number;
}

const magic = 0x46444955; // "UIDF", little-endian
const formatVersion = 1;
/** magic, format, featurizer version, seed, documents, entries (u32 each), unseen idf (f32). */
const headerBytes = 28;

/** Smoothed inverse document frequency, as scikit-learn's: never zero, so no feature vanishes. */
const idfOf = (documents: number, df: number) => Math.log((1 + documents) / (1 + df)) + 1;

/**
 * Inverse document frequencies of hashed features, fitted once on a reference corpus (a frozen
 * snapshot of traffic) and never updated: an update is a new table with a new version, and the
 * version (a digest of the encoded table) goes into the model name, so that vectors weighted
 * differently never meet in one space. Encoded as a small binary file: a header, then the sorted
 * feature indices (u32) and their IDF (f32); features absent from it weigh as unseen ones.
 */
export class IdfTable {
  /** First 12 hex digits of the SHA-256 of the encoded table. */
  readonly version: string;

  private constructor(
    readonly seed: number,
    readonly documents: number,
    private readonly unseenIdf: number,
    private readonly indices: Uint32Array,
    private readonly idf: Float32Array,
    private readonly encoded: Uint8Array,
  ) {
    this.version = createHash('sha256').update(encoded).digest('hex').slice(0, 12);
  }

  /** Counts in how many texts each feature occurs; `texts` is read once, as a stream. */
  static fit(texts: Iterable<string>, options: IdfFitOptions): IdfTable {
    const minDf = options.minDocumentFrequency ?? 2;
    const df = new Uint32Array(hashSpace);
    let documents = 0;
    for (const text of texts) {
      const { words, chars } = featuresOf(text, options.seed);
      for (const index of new Set([...words.keys(), ...chars.keys()]))
        df[index] = (df[index] ?? 0) + 1;
      documents += 1;
    }
    const kept: number[] = [];
    df.forEach((count, index) => {
      if (count >= minDf) kept.push(index);
    });
    const indices = Uint32Array.from(kept);
    const idf = Float32Array.from(kept, (index) => idfOf(documents, df[index] ?? 0));
    return IdfTable.build(options.seed, documents, idfOf(documents, 0), indices, idf);
  }

  /** Reads an encoded table; anything malformed is INVALID_ARGUMENT. */
  static decode(bytes: Uint8Array): IdfTable {
    const invalid = (why: string) =>
      new UnderstudyError(ErrorCode.InvalidArgument, `not an IDF table: ${why}`);
    if (bytes.byteLength < headerBytes) throw invalid('too short');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const u32 = (at: number) => view.getUint32(at, true);
    if (u32(0) !== magic) throw invalid('bad magic number');
    if (u32(4) !== formatVersion) throw invalid(`format ${String(u32(4))} is not supported`);
    if (u32(8) !== featurizerVersion) {
      throw new UnderstudyError(
        ErrorCode.FailedPrecondition,
        `the IDF table was fitted for featurizer version ${String(u32(8))}, this is version ${String(featurizerVersion)}: fit it again`,
      );
    }
    const entries = u32(20);
    if (bytes.byteLength !== headerBytes + entries * 8) throw invalid('length does not match');
    // A copy: a Node Buffer's slice() is a view into a shared, unaligned pool.
    const body = new Uint8Array(bytes.subarray(headerBytes));
    const indices = new Uint32Array(body.buffer, 0, entries);
    const idf = new Float32Array(body.buffer, entries * 4, entries);
    if (
      indices.some((index, i) => index >= hashSpace || (i > 0 && index <= (indices[i - 1] ?? 0)))
    ) {
      throw invalid('feature indices are not sorted and in range');
    }
    const encoded = new Uint8Array(bytes);
    return new IdfTable(u32(12), u32(16), view.getFloat32(24, true), indices, idf, encoded);
  }

  private static build(
    seed: number,
    documents: number,
    unseenIdf: number,
    indices: Uint32Array,
    idf: Float32Array,
  ): IdfTable {
    const bytes = new Uint8Array(headerBytes + indices.length * 8);
    const view = new DataView(bytes.buffer);
    [magic, formatVersion, featurizerVersion, seed, documents, indices.length].forEach(
      (value, i) => {
        view.setUint32(i * 4, value, true);
      },
    );
    view.setFloat32(24, unseenIdf, true);
    bytes.set(new Uint8Array(indices.buffer, indices.byteOffset, indices.byteLength), headerBytes);
    bytes.set(
      new Uint8Array(idf.buffer, idf.byteOffset, idf.byteLength),
      headerBytes + indices.byteLength,
    );
    return IdfTable.decode(bytes);
  }

  /** Features in the table. */
  get size(): number {
    return this.indices.length;
  }

  encode(): Uint8Array {
    return new Uint8Array(this.encoded);
  }

  /**
   * The IDF of every feature index, for a featurizer seeded with `seed`; a table fitted with
   * another seed weighs other features and is refused.
   */
  weights(seed: number): Float32Array {
    if (seed !== this.seed) {
      throw new UnderstudyError(
        ErrorCode.FailedPrecondition,
        `IDF table ${this.version} was fitted with seed ${String(this.seed)}, the featurizer uses seed ${String(seed)}`,
      );
    }
    const weights = new Float32Array(hashSpace).fill(this.unseenIdf);
    this.indices.forEach((index, i) => {
      weights[index] = this.idf[i] ?? this.unseenIdf;
    });
    return weights;
  }
}
