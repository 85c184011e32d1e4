import { metrics, type Counter, type Histogram } from '@opentelemetry/api';

/** The meter is read when a publisher or runner is built, after the service installed the SDK. */
export interface Instruments {
  readonly published: Counter;
  readonly handled: Counter;
  readonly failed: Counter;
  readonly retried: Counter;
  readonly deadLettered: Counter;
  readonly handlerDuration: Histogram;
}

export function createInstruments(): Instruments {
  const meter = metrics.getMeter('understudy.messaging');
  return {
    published: meter.createCounter('understudy.messaging.published', {
      description: 'Records acknowledged by the broker',
    }),
    handled: meter.createCounter('understudy.messaging.handled', {
      description: 'Records whose handler succeeded',
    }),
    failed: meter.createCounter('understudy.messaging.failed', {
      description: 'Handler attempts that failed',
    }),
    retried: meter.createCounter('understudy.messaging.retried', {
      description: 'Handler attempts scheduled again after a retryable failure',
    }),
    deadLettered: meter.createCounter('understudy.messaging.dead_lettered', {
      description: 'Records moved to a dead-letter topic',
    }),
    handlerDuration: meter.createHistogram('understudy.messaging.handler.duration', {
      description: 'Duration of one handler attempt',
      unit: 's',
    }),
  };
}
