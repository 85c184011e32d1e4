/**
 * The clusterer's speed benchmark (not a test): batch discovery at 100k and 1M calls (time,
 * medians, peak RSS, and quality at that scale), online assignment calls/s, and exact HDBSCAN's
 * growth with n.
 *
 *   cd services/clusterer && node --experimental-transform-types bench/speed.ts \
 *     [--sizes=100000,1000000] [--repeats=3] [--exact-sizes=1000,2000,4000] [--out=DIR]
 *
 * The first run builds each corpus table with one worker thread per core and caches it under
 * bench/dist/tables (1M calls: about 1.1 GB); writes report.md and results.json under
 * bench/dist/speed-<time>/ (or --out).
 */
import '@understudy/testbed/source-hooks';

await import('./speed-run.js');
