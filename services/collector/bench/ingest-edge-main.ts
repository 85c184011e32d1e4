/**
 * The collector with its joiner and call archive replaced by idle stand-ins: the OTLP edge and
 * the ingest alone, publishing fragments to Kafka. bench/ingest.ts builds and runs it for
 * `--edge-only`, to measure the edge→Kafka path without the consumers that share its process.
 */
import type { Provider } from '@nestjs/common';
import { CallArchiver } from '@understudy/call-archive';
import { runService, type ServiceDefinition } from '@understudy/service';
import type { settings } from '../src/config.js';
import { Joiner } from '../src/handlers/joiner.js';
import { definition } from '../src/service.js';

const idle = { start: () => Promise.resolve(), stop: () => Promise.resolve() };
const standIns = new Map<unknown, unknown>([
  [Joiner, { ...idle, connected: true } satisfies Pick<Joiner, 'start' | 'stop' | 'connected'>],
  [
    CallArchiver,
    { ...idle, health: () => ({ group: 'none', connected: true }) } satisfies Pick<
      CallArchiver,
      'start' | 'stop' | 'health'
    >,
  ],
]);

function replaced(provider: Provider): Provider {
  if (typeof provider !== 'object' || !('provide' in provider)) return provider;
  const standIn = standIns.get(provider.provide);
  return standIn === undefined ? provider : { provide: provider.provide, useValue: standIn };
}

const edgeOnly: ServiceDefinition<typeof settings> = {
  ...definition,
  module: (config, telemetry, shared) => {
    const module = definition.module(config, telemetry, shared);
    return { ...module, providers: (module.providers ?? []).map(replaced) };
  },
};

await runService(edgeOnly);
