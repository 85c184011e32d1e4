/**
 * Fits the featurizer's IDF table (UNDERSTUDY_EMBEDDER_IDF) on a snapshot of calls:
 *
 *   node dist/fit-idf.js --seed 1 --out idf.bin < calls.ndjson
 *
 * one `LlmCall` per line in protobuf JSON. Prints the table's version and the model name the
 * vectors weighted by it carry. See the README before using one: on the clustering corpus, IDF
 * weighting separated tasks worse than none.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Featurizer } from './domain/featurizer.js';
import { fitSnapshot } from './idf-snapshot.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    dimension: { type: 'string', default: '256' },
    'max-input-chars': { type: 'string', default: '4000' },
    out: { type: 'string' },
  },
});
if (values.out === undefined) {
  process.stderr.write('usage: fit-idf --out <file> [--seed 1] [--dimension 256] < calls.ndjson\n');
  process.exit(2);
}
const seed = Number(values.seed);
const table = await fitSnapshot(process.stdin, {
  seed,
  maxInputChars: Number(values['max-input-chars']),
});
await writeFile(values.out, table.encode());
const model = new Featurizer({ dimension: Number(values.dimension), seed, idf: table }).model;
process.stdout.write(
  `${values.out}: ${String(table.documents)} documents, ${String(table.size)} features, version ${table.version}, model ${model}\n`,
);
