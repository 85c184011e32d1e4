import { metrics } from '@opentelemetry/api';
import {
  MeterProvider,
  MetricReader,
  type DataPoint,
  type Histogram,
  type MetricData,
} from '@opentelemetry/sdk-metrics';

/** Collects on demand, the way a Prometheus scrape would. */
class OnDemandReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * For tests: installs a global MeterProvider, as the telemetry library does in services, and
 * reads what the code under test recorded. Instruments created before `install()` record
 * nowhere, so install it before constructing what is measured.
 */
export class MetricsProbe {
  private constructor(
    private readonly reader: OnDemandReader,
    private readonly scope: string | undefined,
  ) {}

  /** `scope` keeps only the meter of that name (`understudy.storage`…). */
  static install(scope?: string): MetricsProbe {
    const reader = new OnDemandReader();
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
    return new MetricsProbe(reader, scope);
  }

  uninstall(): void {
    metrics.disable();
  }

  /** Every metric recorded so far. */
  async all(): Promise<MetricData[]> {
    const { resourceMetrics } = await this.reader.collect();
    return resourceMetrics.scopeMetrics
      .filter((scope) => this.scope === undefined || scope.scope.name === this.scope)
      .flatMap((scope) => scope.metrics);
  }

  async metric(name: string): Promise<MetricData | undefined> {
    return (await this.all()).find((metric) => metric.descriptor.name === name);
  }

  /** The data points of a counter or gauge (empty when nothing was recorded). */
  async points(name: string): Promise<DataPoint<number>[]> {
    return ((await this.metric(name))?.dataPoints ?? []) as DataPoint<number>[];
  }

  /** The data points of a histogram. */
  async histogram(name: string): Promise<DataPoint<Histogram>[]> {
    return ((await this.metric(name))?.dataPoints ?? []) as DataPoint<Histogram>[];
  }

  /** A counter's sum over all its attributes, or a histogram's count of recordings. */
  async total(name: string): Promise<number> {
    return totalOf(await this.metric(name));
  }
}

export function totalOf(metric: MetricData | undefined): number {
  return (metric?.dataPoints ?? []).reduce<number>(
    (sum, point) => sum + (typeof point.value === 'number' ? point.value : point.value.count),
    0,
  );
}
