import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import type { BatchObservableCallback, Meter } from '@opentelemetry/api';

const nanosPerSecond = 1e9;
const microsPerSecond = 1e6;

/**
 * Node process metrics under the OTel semantic-convention names (node has no runtime
 * instrumentation installed here). Everything is read at collection time, so an unscraped
 * process pays only for the event-loop delay sampler. Returns a function that stops it.
 */
export function startRuntimeMetrics(meter: Meter): () => void {
  const rss = meter.createObservableUpDownCounter('process.memory.usage', {
    unit: 'By',
    description: 'Resident set size of the process.',
  });
  const cpu = meter.createObservableCounter('process.cpu.time', {
    unit: 's',
    description: 'CPU time used by the process, by mode.',
  });
  const heapUsed = meter.createObservableUpDownCounter('v8js.memory.heap.used', {
    unit: 'By',
    description: 'V8 heap memory in use, by heap space.',
  });
  const heapLimit = meter.createObservableUpDownCounter('v8js.memory.heap.limit', {
    unit: 'By',
    description: 'V8 heap memory reserved, by heap space.',
  });
  const delayP99 = meter.createObservableGauge('nodejs.eventloop.delay.p99', {
    unit: 's',
    description: '99th percentile of event loop delay since the previous collection.',
  });
  const delayMax = meter.createObservableGauge('nodejs.eventloop.delay.max', {
    unit: 's',
    description: 'Largest event loop delay since the previous collection.',
  });
  const utilization = meter.createObservableGauge('nodejs.eventloop.utilization', {
    unit: '1',
    description: 'Share of time the event loop was busy since the previous collection.',
  });

  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  let lastLoop = performance.eventLoopUtilization();

  const collect: BatchObservableCallback = (result) => {
    const memory = process.memoryUsage();
    result.observe(rss, memory.rss);
    const cpuUsage = process.cpuUsage();
    result.observe(cpu, cpuUsage.user / microsPerSecond, { 'cpu.mode': 'user' });
    result.observe(cpu, cpuUsage.system / microsPerSecond, { 'cpu.mode': 'system' });
    for (const space of getHeapSpaceStatistics()) {
      const attributes = { 'v8js.heap.space.name': space.space_name };
      result.observe(heapUsed, space.space_used_size, attributes);
      result.observe(heapLimit, space.space_size, attributes);
    }
    if (delay.count > 0) {
      result.observe(delayP99, delay.percentile(99) / nanosPerSecond);
      result.observe(delayMax, delay.max / nanosPerSecond);
    }
    // Windows between collections: a scrape shows what happened since the last scrape.
    delay.reset();
    const loop = performance.eventLoopUtilization();
    result.observe(utilization, performance.eventLoopUtilization(loop, lastLoop).utilization);
    lastLoop = loop;
  };
  const observables = [rss, cpu, heapUsed, heapLimit, delayP99, delayMax, utilization];
  meter.addBatchObservableCallback(collect, observables);

  return () => {
    meter.removeBatchObservableCallback(collect, observables);
    delay.disable();
  };
}
