import { create } from '@bufbuild/protobuf';
import { StringValueSchema } from '@bufbuild/protobuf/wkt';
import {
  CallCapturedSchema,
  CallEmbeddedSchema,
  EventMetaSchema,
  HealthCheckRequestSchema,
  RouteEventSchema,
} from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { catalog, eventTopic, topics } from './catalog.js';
import { stringFieldReader } from './field-path.js';
import { Header } from './headers.js';
import { InProcessDriver } from './in-process/in-process-driver.js';
import { ensureTopics, Messaging } from './messaging.js';
import { readRecords } from './testing/helpers.js';

describe('the Understudy topic catalog', () => {
  it('takes names from the contracts and adds a dead-letter topic to each', () => {
    expect(catalog.map((topic) => [topic.name, topic.deadLetter.name])).toEqual([
      ['understudy.calls.captured.v1', 'understudy.calls.captured.v1.dlq'],
      ['understudy.collector.fragments.v1', 'understudy.collector.fragments.v1.dlq'],
      ['understudy.calls.embedded.v1', 'understudy.calls.embedded.v1.dlq'],
      ['understudy.tasks.v1', 'understudy.tasks.v1.dlq'],
      ['understudy.datasets.v1', 'understudy.datasets.v1.dlq'],
      ['understudy.training-runs.v1', 'understudy.training-runs.v1.dlq'],
      ['understudy.model-versions.v1', 'understudy.model-versions.v1.dlq'],
      ['understudy.routes.v1', 'understudy.routes.v1.dlq'],
      ['understudy.audit.v1', 'understudy.audit.v1.dlq'],
    ]);
    expect(topics.audit.key.description).toMatch(/^entry\.resource_id: /);
    expect(topics.routes).toMatchObject({ cleanupPolicy: 'compact', retentionMs: -1 });
    expect(topics.callsEmbedded.key.description).toMatch(/^signature\.digest: /);
  });

  it('keys records by the field the contract names and refuses events without it', () => {
    const meta = create(EventMetaSchema, { eventId: 'e-1', tenantId: 'tenant-1' });
    const captured = create(CallCapturedSchema, {
      meta,
      call: { callId: 'call-1', tenantId: 'tenant-1' },
    });
    expect(topics.callsCaptured.key.of(captured)).toBe('call-1');
    expect(topics.callsCaptured.eventId?.(captured)).toBe('e-1');
    const embedded = create(CallEmbeddedSchema, { meta, signature: { digest: 'abc' } });
    expect(topics.callsEmbedded.key.of(embedded)).toBe('abc');
    expect(topics.routes.key.of(create(RouteEventSchema, { meta }))).toBe('tenant-1');
    expect(() => topics.callsCaptured.key.of(create(CallCapturedSchema, { meta }))).toThrow(
      /without call\.call_id/,
    );
  });

  it('publishes events with their event id and creates every topic once', async () => {
    const driver = new InProcessDriver();
    await ensureTopics(driver, catalog);
    await ensureTopics(driver, catalog);
    const messaging = new Messaging({ driver, producerName: 'collector', topics: catalog });
    await messaging.connect();
    const meta = create(EventMetaSchema, { eventId: 'event-42', tenantId: 't' });
    await messaging.publish(
      topics.callsCaptured,
      create(CallCapturedSchema, { meta, call: { callId: 'c' } }),
    );
    const [record] = await readRecords(driver, topics.callsCaptured.name, 1);
    expect(record!.text[Header.EventId]).toBe('event-42');
    await messaging.stop();
  });

  it('refuses schemas without the topic option and key paths that do not fit', () => {
    expect(() =>
      eventTopic(HealthCheckRequestSchema, { keyPurpose: '', partitions: 1, retentionMs: 1 }),
    ).toThrow(/declares no \(understudy\.v1\.kafka_topic\)/);
    expect(() => stringFieldReader(CallCapturedSchema, 'call.nope')).toThrow(
      /no string field at "call.nope"/,
    );
    expect(() => stringFieldReader(CallCapturedSchema, 'call')).toThrow(/no string field/);
    expect(
      stringFieldReader(StringValueSchema, 'value')(create(StringValueSchema, { value: 'v' })),
    ).toBe('v');
  });
});
