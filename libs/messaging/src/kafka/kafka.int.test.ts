import { create, fromBinary } from '@bufbuild/protobuf';
import { StringValueSchema } from '@bufbuild/protobuf/wkt';
import { context, propagation, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { Kafka, logLevel } from 'kafkajs';
import { uniqueName } from '@understudy/testbed';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { MessageContext } from '../consumer-runner.js';
import { Header } from '../headers.js';
import { Messaging, type MessagingOptions } from '../messaging.js';
import { readRecords, testTopic } from '../testing/helpers.js';
import { KafkaDriver } from './kafka-driver.js';

const { kafka } = inject('testbed');
const text = (value: string) => create(StringValueSchema, { value });
const running: Messaging[] = [];

function kafkaDriver(brokers: string[] = kafka.brokers): KafkaDriver {
  return new KafkaDriver({ brokers, clientId: uniqueName('messaging') });
}

async function started(
  setUp: (messaging: Messaging) => void,
  options: Partial<MessagingOptions> & Pick<MessagingOptions, 'driver'>,
): Promise<Messaging> {
  const messaging = new Messaging({
    producerName: 'int-test',
    retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 },
    drainTimeoutMs: 5_000,
    ...options,
  });
  setUp(messaging);
  running.push(messaging);
  await messaging.start();
  return messaging;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((messaging) => messaging.stop()));
});

describe('KafkaDriver against a real broker', () => {
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  });

  afterAll(() => {
    propagation.disable();
    context.disable();
  });

  it('round-trips messages with headers and trace context, and publishes concurrently without loss', async () => {
    const driver = kafkaDriver();
    const topic = testTopic(3);
    const seen: { value: string; context: MessageContext; traceId: string | undefined }[] = [];
    const messaging = await started(
      (m) =>
        m.on(topic, { group: uniqueName('group') }, (message, ctx) => {
          seen.push({
            value: message.value,
            context: ctx,
            traceId: trace.getActiveSpan()?.spanContext().traceId,
          });
        }),
      { driver },
    );
    expect(messaging.health()).toMatchObject({ healthy: true });

    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = trace.wrapSpanContext({
      traceId,
      spanId: '00f067aa0ba902b7',
      traceFlags: TraceFlags.SAMPLED,
    });
    await context.with(trace.setSpan(context.active(), parent), () =>
      messaging.publish(topic, text('tenant-1:first')),
    );
    await vi.waitFor(() => {
      expect(seen).toHaveLength(1);
    }, 30_000);
    const [first] = seen;
    expect(first!.value).toBe('tenant-1:first');
    expect(first!.traceId).toBe(traceId);
    expect(first!.context).toMatchObject({ topic: topic.name, key: 'tenant-1', attempt: 1 });
    expect(first!.context.headers).toMatchObject({
      [Header.ContentType]: 'application/x-protobuf',
      [Header.Schema]: 'google.protobuf.StringValue',
      [Header.Producer]: 'int-test',
      traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
    });

    const values = Array.from({ length: 100 }, (_, i) => `k${i % 7}:${i}`);
    await Promise.all(values.map((value) => messaging.publish(topic, text(value))));
    await vi.waitFor(() => {
      expect(seen).toHaveLength(101);
    }, 30_000);
    expect(new Set(seen.map((entry) => entry.value)).size).toBe(101);
    for (let key = 0; key < 7; key += 1) {
      const order = seen.filter((e) => e.value.startsWith(`k${key}:`)).map((e) => e.context.offset);
      expect(order.map(Number)).toEqual([...order].map(Number).sort((a, b) => a - b));
    }
  });

  it('retries, then dead-letters with the origin headers; non-retryable and undecodable records at once', async () => {
    const driver = kafkaDriver();
    const topic = testTopic(2);
    const attempts = new Map<string, number>();
    const messaging = await started(
      (m) =>
        m.on(topic, { group: uniqueName('group') }, (message) => {
          attempts.set(message.value, (attempts.get(message.value) ?? 0) + 1);
          if (message.value === 'a:flaky' && attempts.get(message.value) === 1) {
            throw new UnderstudyError(ErrorCode.Unavailable, 'once');
          }
          if (message.value === 'a:down')
            throw new UnderstudyError(ErrorCode.Unavailable, 'model server down');
          if (message.value === 'a:invalid')
            throw new UnderstudyError(ErrorCode.InvalidArgument, 'no such tenant');
        }),
      { driver },
    );
    await messaging.publishAll(topic, [text('a:flaky'), text('a:down'), text('a:invalid')]);
    await messaging.publisher.publishRecords([
      {
        topic: topic.name,
        key: 'a',
        value: new Uint8Array([0xff, 0xff, 0xff]),
        headers: { custom: 'kept' },
      },
    ]);
    const dead = await readRecords(driver, topic.deadLetter.name, 3, 30_000);
    expect(attempts).toEqual(
      new Map([
        ['a:flaky', 2],
        ['a:down', 3],
        ['a:invalid', 1],
      ]),
    );
    const byCode = new Map(dead.map((record) => [record.text[Header.ErrorCode], record] as const));
    const unavailable = byCode.get('UNAVAILABLE');
    expect(unavailable?.text).toMatchObject({
      [Header.OriginTopic]: topic.name,
      [Header.OriginOffset]: '1',
      [Header.Attempts]: '3',
      [Header.ErrorMessage]: 'model server down',
      [Header.Schema]: 'google.protobuf.StringValue',
    });
    expect(Number(unavailable?.text[Header.OriginPartition])).toBe(unavailable?.partition);
    expect(new TextDecoder().decode(unavailable?.key ?? undefined)).toBe('a');
    const invalid = dead.filter((record) => record.text[Header.ErrorCode] === 'INVALID_ARGUMENT');
    // The handler refused offset 2 at its first attempt; offset 3 could not even be decoded.
    expect(
      invalid.map((record) => [record.text[Header.OriginOffset], record.text[Header.Attempts]]),
    ).toEqual([
      ['2', '1'],
      ['3', '0'],
    ]);
    const undecodable = dead.filter((record) => record.text['custom'] === 'kept');
    expect(undecodable).toHaveLength(1);
    expect([...undecodable[0]!.value!]).toEqual([0xff, 0xff, 0xff]);
    expect(undecodable[0]!.text[Header.Attempts]).toBe('0');
  });

  it('hands a group over after a graceful stop: every message exactly once', async () => {
    const driver = kafkaDriver();
    const topic = testTopic(3);
    const group = uniqueName('group');
    const handled: string[] = [];
    let stopping: Promise<void> | undefined;
    const handler = async (message: { value: string }): Promise<void> => {
      // The 50th message is still being handled when the stop begins, so it finishes in the drain.
      if (handled.length === 49 && stopping === undefined) stopping = first.stop();
      await new Promise((resolve) => setTimeout(resolve, 5));
      handled.push(message.value);
    };
    const first = await started((m) => m.on(topic, { group }, handler), { driver });
    const values = Array.from({ length: 300 }, (_, i) => `key${i % 10}:${i}`);
    await first.publishAll(topic, values.map(text));
    await vi.waitFor(() => {
      expect(stopping).toBeDefined();
    }, 30_000);
    await stopping;
    expect(handled).toHaveLength(50);

    await started((m) => m.on(topic, { group }, handler), { driver: kafkaDriver() });
    await vi.waitFor(() => {
      expect(handled.length).toBeGreaterThanOrEqual(300);
    }, 60_000);
    // Give a duplicate the time to show up before counting.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(handled).toHaveLength(300);
    expect(new Set(handled)).toEqual(new Set(values));
  });
  it('publishes more than the broker default of 1 MiB to one partition, and records up to 16 MiB', async () => {
    const driver = kafkaDriver();
    // Created with the broker's defaults, as an operator might: batches over 1 MiB are refused,
    // so 3 MiB for one partition only goes in produce requests under that.
    const plain = testTopic(1);
    const admin = new Kafka({ brokers: kafka.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: plain.name }] });
    await admin.disconnect();
    // Created by the platform, whose topics take a record made from the largest export.
    const platform = testTopic(1);
    await driver.ensureTopics([platform]);
    const publisher = await started(() => undefined, { driver });

    const values = Array.from({ length: 48 }, (_, i) => `k:${String(i)}:${'x'.repeat(64 * 1024)}`);
    await publisher.publishAll(plain, values.map(text));
    const big = `k:big:${'y'.repeat(2 * 1024 * 1024)}`;
    await publisher.publish(platform, text(big));

    const valuesOf = (records: { value: Uint8Array | null }[]) =>
      records.map((record) => fromBinary(StringValueSchema, record.value!).value);
    // One partition: all of them, once, in the order published.
    expect(valuesOf(await readRecords(driver, plain.name, 48, 30_000))).toEqual(values);
    expect(valuesOf(await readRecords(driver, platform.name, 1, 30_000))).toEqual([big]);
  });
});
