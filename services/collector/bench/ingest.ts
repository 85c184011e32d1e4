/**
 * The collector's sustained ingest: GenAI traces from real OTel SDK clients, end to end through
 * the OTLP/HTTP edge (auth, decode, mapping, redaction) into real Kafka (acks=all), with the
 * joiner and the archive running in the same process as deployed. Steps the offered rate up to
 * find the knee, verifies that nothing acknowledged is missing from Kafka, and profiles the
 * collector at the knee. See the README's Benchmark section.
 *
 *   cd services/collector && node --conditions=@understudy/source bench/ingest.ts \
 *     [--rates=1000,2000,…] [--repeats=3] [--step-seconds=20] [--clients=4] [--batch=512] …
 *
 * Starts its own Kafka (fresh for every run) and MinIO from the test bed; writes the collector's
 * logs, its CPU profile and results.json under bench/dist/ingest-<time>/ (or --out).
 */
import '@understudy/testbed/source-hooks';

await import('./ingest-run.js');
