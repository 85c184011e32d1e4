/**
 * Embedding throughput per backend: the service's CallEmbedder (content selection, signature,
 * batching, backend) deriving a set of captured calls of the clustering corpus, all submitted at
 * once as many partitions in flight would; the cache is off (every text distinct) so that each
 * call reaches the backend. Median calls/s of the repeats, after a warm-up pass.
 *
 *   cd services/embedder && node --experimental-transform-types --conditions=@understudy/source --import @understudy/testbed/source-hooks \
 *     bench/throughput.ts [--calls 400] [--repeats 3] [--backends hashing,onnx-minilm-q8,...]
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { CallEmbedder } from '../src/domain/call-embedder.js';
import { IdfTable } from '../src/domain/idf.js';
import { backendNames, openBenchBackend, type BackendName } from './backends.js';
import { corpusTexts } from './corpus.js';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '400' },
    repeats: { type: 'string', default: '3' },
    backends: { type: 'string', default: backendNames.join(',') },
    'batch-sizes': { type: 'string', default: '1,32' },
    threads: { type: 'string', default: '2' },
  },
});
const repeats = Number(args.repeats);
const threads = Number(args.threads);

const seen = new Set<string>();
const all = corpusTexts(7, Number(args.calls) * 3).filter(
  ({ text }) => !seen.has(text) && seen.add(text),
);
const calls = all.slice(0, Number(args.calls)).map(({ call }) => call);
const warmUp = all.slice(Number(args.calls), Number(args.calls) + 32).map(({ call }) => call);
const chars = all
  .slice(0, calls.length)
  .map(({ text }) => text.length)
  .sort((a, b) => a - b);
const idf = IdfTable.fit(
  corpusTexts(1234, 4000).map(({ text }) => text),
  { seed: 1 },
);

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

console.log(
  `${String(calls.length)} distinct calls of the clustering corpus (seed 7), text length median ` +
    `${String(median(chars))} chars, p90 ${String(chars[Math.floor(chars.length * 0.9)])} ` +
    `(clipped at 4,000); ${String(repeats)} repeats; ${String(cpus().length)} × ${cpus()[0]?.model ?? '?'}; ` +
    `node ${process.version}`,
);
console.log('| backend | model | batch size | calls/s (median) | runs (calls/s) |');
console.log('| --- | --- | ---: | ---: | --- |');
for (const name of args.backends.split(',') as BackendName[]) {
  const sizes = name.startsWith('hashing') ? [32] : args['batch-sizes'].split(',').map(Number);
  for (const batchSize of sizes) {
    const { backend, stop } = await openBenchBackend(name, { batchSize, threads, idf });
    try {
      const embedder = new CallEmbedder(backend, {
        cacheSize: 1,
        maxBatchSize: batchSize,
        concurrency: 1,
        maxInputChars: 4_000,
      });
      await Promise.all(warmUp.map((call) => embedder.derive(call)));
      const rates: number[] = [];
      for (let run = 0; run < repeats; run++) {
        const started = performance.now();
        await Promise.all(calls.map((call) => embedder.derive(call)));
        rates.push(calls.length / ((performance.now() - started) / 1000));
      }
      console.log(
        `| ${name} | ${backend.model} | ${String(batchSize)} | ${median(rates).toFixed(1)} | ${rates.map((rate) => rate.toFixed(1)).join(', ')} |`,
      );
    } finally {
      await stop();
    }
  }
}
