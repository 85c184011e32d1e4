import { metrics, type Counter, type Histogram } from '@opentelemetry/api';

/** Batch sizes are powers of two in practice (a full batch) or small (a quiet moment). */
const batchBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/**
 * The embedder's throughput metrics, scraped as Prometheus by the ops server: embeddings/s is
 * the rate of `understudy_embedder_embeddings_total`, the cache hit ratio its share with
 * `understudy_cache_hit="true"`. Created per instance, not at import: the API hands out no-op
 * meters until telemetry is installed.
 */
export class EmbedderInstruments {
  /** Embeddings handed out, by whether the content-hash cache (or a twin in flight) answered. */
  readonly embeddings: Counter;
  /** Time to derive a signature and embedding for one call, queueing for the backend included. */
  readonly deriveDuration: Histogram;
  /** Texts per backend call. */
  readonly batchSize: Histogram;
  /** Time of one backend call, by backend and outcome. */
  readonly backendDuration: Histogram;

  constructor() {
    const meter = metrics.getMeter('understudy.embedder');
    this.embeddings = meter.createCounter('understudy.embedder.embeddings', {
      description: 'Embeddings produced, by whether the content-hash cache answered',
      unit: '{embedding}',
    });
    this.deriveDuration = meter.createHistogram('understudy.embedder.derive.duration', {
      description: 'Time to derive a signature and embedding for one call',
      unit: 's',
    });
    this.batchSize = meter.createHistogram('understudy.embedder.batch.size', {
      description: 'Texts sent to the embedding backend in one call',
      unit: '{text}',
      advice: { explicitBucketBoundaries: batchBuckets },
    });
    this.backendDuration = meter.createHistogram('understudy.embedder.backend.duration', {
      description: 'Duration of one call of the embedding backend (a batch)',
      unit: 's',
    });
  }
}
