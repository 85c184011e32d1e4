import { metrics, type Counter, type Histogram } from '@opentelemetry/api';

/** The meter is read when an archiver is built, after the service installed the SDK. */
export interface Instruments {
  readonly calls: Counter;
  readonly bytes: Counter;
  readonly segments: Counter;
  readonly rejected: Counter;
  readonly flushDuration: Histogram;
}

export function createInstruments(): Instruments {
  const meter = metrics.getMeter('understudy.archive');
  return {
    calls: meter.createCounter('understudy.archive.calls', {
      description: 'Calls written to archive segments (rewrites after a restart count again)',
    }),
    bytes: meter.createCounter('understudy.archive.bytes', {
      description: 'Compressed bytes of the segments written',
      unit: 'By',
    }),
    segments: meter.createCounter('understudy.archive.segments', {
      description: 'Segments written to the object store',
    }),
    rejected: meter.createCounter('understudy.archive.calls.rejected', {
      description: 'Records that cannot be archived (undecodable, no tenant, tenant id too long)',
    }),
    flushDuration: meter.createHistogram('understudy.archive.flush.duration', {
      description:
        'Duration of a partition flush: compressing, uploading and committing its buffer',
      unit: 's',
      advice: {
        explicitBucketBoundaries: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      },
    }),
  };
}
