/**
 * The benches' input: the evaluation corpus, derived and embedded as the embedder does it, laid
 * out as the discovery's CallTable, with each call's ground-truth task. Large tables are built by
 * worker threads (a range of days each) and cached under bench/dist/tables, keyed by corpus
 * seed, size and embedding model, so that later runs measure clustering, not corpus building.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { SignatureFacts } from '../src/domain/discovery/structure.js';
import { generateCorpus, type LabelledCall } from '../src/testing/corpus/corpus.js';
import { derive, embedders, type TextEmbedder } from './vector-source.js';

/** A CallTable with each call's ground truth and time. */
export interface BenchTable extends TablePart {
  readonly dimension: number;
}

export interface TableOptions {
  readonly seed: number;
  readonly calls: number;
  /** A key of `embedders`. */
  readonly embedder: string;
  readonly dimension: number;
}

/** The calls of some days of the corpus, as a worker sends them. */
export interface TablePart {
  readonly vectors: Float32Array<ArrayBuffer>;
  readonly hasVector: Uint8Array<ArrayBuffer>;
  readonly signatureOf: Int32Array<ArrayBuffer>;
  readonly signatures: readonly SignatureFacts[];
  /** Each call's ground-truth task. */
  readonly truth: readonly string[];
  readonly timesMs: Float64Array<ArrayBuffer>;
}

const days = 14;

export function signatureFacts(signature: SignatureFacts): SignatureFacts {
  const { digest, agentName, stepName, operation, toolNames, responseFormat, responseSchemaHash } =
    signature;
  return {
    digest,
    agentName,
    stepName,
    operation,
    toolNames: [...toolNames],
    responseFormat,
    responseSchemaHash,
  };
}

/** Derives and embeds labelled calls: the table part plus each call's embedded text. */
export async function embedCalls(
  calls: readonly LabelledCall[],
  embedder: TextEmbedder,
  dimension: number,
): Promise<{ part: TablePart; texts: string[] }> {
  const derived = calls.map((call) => {
    if (call.captured.call === undefined) throw new Error('corpus call without LlmCall');
    return derive(call.captured.call);
  });
  const texts = derived.map((d) => d.text);
  const withText = texts.flatMap((text, i) => (text === '' ? [] : [i]));
  const embedded = await embedder.embed(withText.map((i) => texts[i] as string));
  const vectors = new Float32Array(calls.length * dimension);
  const hasVector = new Uint8Array(calls.length);
  withText.forEach((call, e) => {
    vectors.set(embedded[e] as Float32Array, call * dimension);
    hasVector[call] = 1;
  });
  const index = new Map<string, number>();
  const signatures: SignatureFacts[] = [];
  const signatureOf = Int32Array.from(derived, ({ signature }) => {
    const known = index.get(signature.digest);
    if (known !== undefined) return known;
    index.set(signature.digest, signatures.length);
    return signatures.push(signatureFacts(signature)) - 1;
  });
  return {
    part: {
      vectors,
      hasVector,
      signatureOf,
      signatures,
      truth: calls.map((call) => call.task),
      timesMs: Float64Array.from(calls, (call) => call.timeMs),
    },
    texts,
  };
}

/** The table of `options`, from the cache or built by one worker per core. */
export async function benchTable(options: TableOptions): Promise<BenchTable> {
  const model = (embedders[options.embedder] ?? unknownEmbedder(options.embedder))(
    options.dimension,
  ).model;
  const dir = new URL('./dist/tables/', import.meta.url);
  const file = new URL(
    `corpus-${sourcesDigest()}-s${String(options.seed)}-n${String(options.calls)}-${model}`,
    dir,
  );
  if (existsSync(`${file.pathname}.json`)) return readTable(file.pathname, options.dimension);
  const workers = Math.min(availableParallelism(), days);
  const ranges = Array.from(
    { length: workers },
    (_, w) => [Math.round((w * days) / workers), Math.round(((w + 1) * days) / workers)] as const,
  );
  const parts = await Promise.all(ranges.map((only) => buildPart({ ...options, only })));
  const table = joinParts(parts, options.dimension);
  mkdirSync(dir, { recursive: true });
  writeTable(file.pathname, table);
  return table;
}

/**
 * Digest of the sources a table derives from (the corpus generator, and the embedder's content
 * selection and signature as vector-source.ts uses them): a change never reads a stale table.
 */
function sourcesDigest(): string {
  const hash = createHash('sha256');
  const corpus = new URL('../src/testing/corpus/', import.meta.url);
  const files = [
    ...readdirSync(corpus)
      .filter((file) => file.endsWith('.ts'))
      .sort()
      .map((file) => new URL(file, corpus)),
    new URL('./vector-source.ts', import.meta.url),
    ...['content', 'featurizer', 'signature', 'hashing'].map(
      (name) => new URL(`../../embedder/src/domain/${name}.ts`, import.meta.url),
    ),
  ];
  for (const file of files) hash.update(file.pathname).update(readFileSync(file));
  return hash.digest('hex').slice(0, 12);
}

function unknownEmbedder(name: string): never {
  throw new Error(`unknown embedder ${name}; known: ${Object.keys(embedders).join(', ')}`);
}

function buildPart(
  options: TableOptions & { only: readonly [number, number] },
): Promise<TablePart> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./table-worker.ts', import.meta.url), {
      workerData: options,
    });
    worker.once('message', (part: TablePart) => {
      resolve(part);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

/** Builds the calls of some days in this thread (what each worker runs). */
export async function tablePart(
  options: TableOptions & { only?: readonly [number, number] },
): Promise<TablePart> {
  const embedder = (embedders[options.embedder] ?? unknownEmbedder(options.embedder))(
    options.dimension,
  );
  const parts: TablePart[] = [];
  // A day at a time, so that the corpus' protobuf messages never pile up.
  const [from, to] = options.only ?? [0, days];
  for (let day = from; day < to; day++) {
    const calls = [
      ...generateCorpus({ seed: options.seed, calls: options.calls, days, only: [day, day + 1] }),
    ];
    parts.push((await embedCalls(calls, embedder, options.dimension)).part);
  }
  return joinParts(parts, options.dimension);
}

export function joinParts(parts: readonly TablePart[], dimension: number): BenchTable {
  const count = parts.reduce((sum, part) => sum + part.truth.length, 0);
  const vectors = new Float32Array(count * dimension);
  const hasVector = new Uint8Array(count);
  const signatureOf = new Int32Array(count);
  const timesMs = new Float64Array(count);
  const truth: string[] = [];
  const index = new Map<string, number>();
  const signatures: SignatureFacts[] = [];
  let offset = 0;
  for (const part of parts) {
    vectors.set(part.vectors, offset * dimension);
    hasVector.set(part.hasVector, offset);
    timesMs.set(part.timesMs, offset);
    const remap = part.signatures.map((signature) => {
      const known = index.get(signature.digest);
      if (known !== undefined) return known;
      index.set(signature.digest, signatures.length);
      return signatures.push(signature) - 1;
    });
    part.signatureOf.forEach((local, i) => {
      signatureOf[offset + i] = remap[local] as number;
    });
    for (const label of part.truth) truth.push(label);
    offset += part.truth.length;
  }
  return { dimension, vectors, hasVector, signatureOf, signatures, truth, timesMs };
}

function writeTable(path: string, table: BenchTable): void {
  writeFileSync(`${path}.bin`, table.vectors);
  const meta = {
    dimension: table.dimension,
    signatures: table.signatures,
    truth: table.truth,
    hasVector: Buffer.from(table.hasVector).toString('base64'),
    signatureOf: Buffer.from(table.signatureOf.buffer).toString('base64'),
    timesMs: Buffer.from(table.timesMs.buffer).toString('base64'),
  };
  writeFileSync(`${path}.json`, JSON.stringify(meta));
}

function readTable(path: string, dimension: number): BenchTable {
  const meta = JSON.parse(readFileSync(`${path}.json`, 'utf8')) as {
    dimension: number;
    signatures: SignatureFacts[];
    truth: string[];
    hasVector: string;
    signatureOf: string;
    timesMs: string;
  };
  if (meta.dimension !== dimension) throw new Error(`${path}: dimension ${String(meta.dimension)}`);
  const bytes = (base64: string) => {
    const buffer = Buffer.from(base64, 'base64');
    return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength);
  };
  const raw = readFileSync(`${path}.bin`);
  // A large file's buffer is its own, aligned allocation: view it rather than copy a gigabyte.
  const vectors =
    raw.byteOffset % 4 === 0
      ? new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4)
      : new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  return {
    dimension,
    vectors,
    hasVector: new Uint8Array(bytes(meta.hasVector)),
    signatureOf: new Int32Array(bytes(meta.signatureOf)),
    signatures: meta.signatures,
    truth: meta.truth,
    timesMs: new Float64Array(bytes(meta.timesMs)),
  };
}
