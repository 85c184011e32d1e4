/**
 * The clusterer's quality harness: discovers tasks in the labelled evaluation corpus
 * (src/testing/corpus) and scores them against the ground truth (ARI, NMI, V-measure), with
 * ablations, a plain flat HDBSCAN, scikit-learn's HDBSCAN on the same vectors (a cached venv
 * from python/requirements.lock), labels, online assignment and task-id stability over a replayed
 * fortnight.
 *
 *   cd services/clusterer && node --experimental-transform-types bench/quality.ts \
 *     [--seed=7] [--calls=8000] [--embedder=featurizer] [--dimension=256] [--skip-sklearn] [--out=DIR]
 *
 * Writes report.md and results.json under bench/dist/quality-<time>/ (or --out).
 */
import '@understudy/testbed/source-hooks';

await import('./quality-run.js');
