import { create } from '@bufbuild/protobuf';
import {
  CallCapturedSchema,
  EmbedderService,
  EventMetaSchema,
  type CallEmbedded,
} from '@understudy/contracts';
import { createClient } from '@understudy/grpc';
import { KafkaDriver, Messaging, topics } from '@understudy/messaging';
import { GrpcServer } from '@understudy/grpc';
import { startService, type RunningService } from '@understudy/service';
import { uniqueName } from '@understudy/testbed';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { settings } from './config.js';
import { definition } from './service.js';
import { llmCall } from './testing/calls.js';

describe('embedder on real Kafka', () => {
  const { kafka } = inject('testbed');
  const tenantId = uniqueName('tenant');
  const seen: CallEmbedded[] = [];
  let service: RunningService<typeof settings>;
  let client: Messaging;

  beforeAll(async () => {
    service = await startService(definition, {
      UNDERSTUDY_KAFKA_BROKERS: kafka.brokers.join(','),
      UNDERSTUDY_GRPC_HOST: '127.0.0.1',
      UNDERSTUDY_GRPC_PORT: '0',
      UNDERSTUDY_OPS_HOST: '127.0.0.1',
      UNDERSTUDY_OPS_PORT: '0',
      UNDERSTUDY_LOG_LEVEL: 'silent',
    });
    client = new Messaging({
      driver: new KafkaDriver({ brokers: kafka.brokers, clientId: 'embedder-test' }),
      producerName: 'embedder-test',
    });
    client.on(topics.callsEmbedded, { group: uniqueName('embedder-test') }, (event) => {
      if (event.meta?.tenantId === tenantId) seen.push(event);
    });
    await client.connect();
    await client.consumers.start();
  });

  afterAll(async () => {
    await client.stop();
    await service.stop();
  });

  it('turns CallCaptured into CallEmbedded and answers EmbedCall the same way', async () => {
    const calls = [
      llmCall({ tenantId, callId: 'c-1', system: 'Triage ticket 12.', user: 'Printer on fire' }),
      llmCall({ tenantId, callId: 'c-2', system: 'Triage ticket 987.', user: 'Wifi is slow' }),
      llmCall({ tenantId, callId: 'c-3' }),
    ];
    const events = calls.map((call) =>
      create(CallCapturedSchema, {
        meta: create(EventMetaSchema, { eventId: crypto.randomUUID(), tenantId }),
        call,
      }),
    );
    await client.publishAll(topics.callsCaptured, events);
    // The first one again, as a redelivery would bring it.
    await client.publish(topics.callsCaptured, events[0] ?? events[1]!);

    await expect.poll(() => seen.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(4);
    const byCall = (id: string) => seen.filter((event) => event.call?.callId === id);
    expect([...new Set(seen.map((event) => event.call?.callId))].sort()).toEqual([
      'c-1',
      'c-2',
      'c-3',
    ]);
    const [first, again] = byCall('c-1');
    expect(again?.meta?.eventId).toBe(first?.meta?.eventId);
    expect(first?.meta).toMatchObject({
      producer: 'embedder',
      causationId: events[0]?.meta?.eventId,
    });
    const second = byCall('c-2')[0];
    expect(second?.signature?.digest).toBe(first?.signature?.digest);
    expect(first?.embedding?.dimension).toBe(256);
    expect(first?.summary).toMatchObject({ provider: 'openai', contentCaptured: true });
    const bare = byCall('c-3')[0];
    expect(bare?.embedding).toBeUndefined();
    expect(bare?.signature?.digest).not.toBe(first?.signature?.digest);

    const grpc = createClient(
      EmbedderService,
      `127.0.0.1:${String(service.app.get(GrpcServer).port)}`,
    );
    try {
      const live = await grpc.embedCall({ call: calls[0] });
      expect(live.signature?.digest).toBe(first?.signature?.digest);
      expect(live.contentHash).toBe(first?.contentHash);
      expect(live.embedding?.values).toEqual(first?.embedding?.values);
    } finally {
      grpc.close();
    }
  });
});
