import { create } from '@bufbuild/protobuf';
import { StringValueSchema, TimestampSchema } from '@bufbuild/protobuf/wkt';
import { context, propagation, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { MetricsProbe, totalOf } from '@understudy/telemetry/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Header } from './headers.js';
import { InProcessDriver } from './in-process/in-process-driver.js';
import type { MessageContext } from './consumer-runner.js';
import { Messaging, type MessagingOptions } from './messaging.js';
import { readRecords, testTopic } from './testing/helpers.js';
import { defineTopic } from './topic.js';

const text = (value: string) => create(StringValueSchema, { value });
const fast = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };
const started: Messaging[] = [];

async function start(
  driver: InProcessDriver,
  setUp: (messaging: Messaging) => void,
  options: Partial<MessagingOptions> = {},
): Promise<Messaging> {
  const messaging = new Messaging({ driver, producerName: 'unit-test', retry: fast, ...options });
  setUp(messaging);
  await messaging.start();
  started.push(messaging);
  return messaging;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((messaging) => messaging.stop()));
});

describe('Messaging with the in-process driver', () => {
  it('delivers the decoded message with its key, headers and position', async () => {
    const driver = new InProcessDriver();
    const topic = testTopic();
    const seen: [string, MessageContext][] = [];
    const messaging = await start(driver, (m) =>
      m.on(topic, { group: 'g' }, (message, ctx) => {
        seen.push([message.value, ctx]);
      }),
    );
    await messaging.publish(topic, text('tenant-1:hello'));
    await vi.waitFor(() => {
      expect(seen).toHaveLength(1);
    });
    const [value, ctx] = seen[0]!;
    expect(value).toBe('tenant-1:hello');
    expect(ctx).toMatchObject({
      topic: topic.name,
      offset: '0',
      key: 'tenant-1',
      group: 'g',
      attempt: 1,
    });
    expect(ctx.headers).toMatchObject({
      [Header.ContentType]: 'application/x-protobuf',
      [Header.Schema]: 'google.protobuf.StringValue',
      [Header.Producer]: 'unit-test',
    });
    expect(ctx.headers[Header.EventId]).toMatch(/^[0-9a-f-]{36}$/);
    expect(messaging.health()).toMatchObject({
      healthy: true,
      producer: { connected: true },
      consumers: [{ group: 'g', topics: [topic.name], connected: true }],
    });
  });

  it('takes the event id from the topic and publishes batches', async () => {
    const driver = new InProcessDriver();
    const topic = defineTopic({
      ...testTopic(),
      key: { description: 'constant', of: () => 'k' },
      eventId: (message) => `event-${message.value}`,
    });
    const messaging = await start(driver, () => undefined, { topics: [topic] });
    await messaging.publishAll(topic, [text('1'), text('2')]);
    const records = await readRecords(driver, topic.name, 2);
    expect(records.map((record) => record.text[Header.EventId])).toEqual(['event-1', 'event-2']);
  });

  it('refuses a message of another schema', async () => {
    const driver = new InProcessDriver();
    const topic = testTopic();
    const messaging = await start(driver, () => undefined, { topics: [topic] });
    const wrong = create(TimestampSchema) as unknown as ReturnType<typeof text>;
    await expect(messaging.publish(topic, wrong)).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
    });
  });

  it('retries retryable failures with backoff and then succeeds', async () => {
    const driver = new InProcessDriver();
    const topic = testTopic();
    const attempts: number[] = [];
    const messaging = await start(driver, (m) =>
      m.on(topic, { group: 'g' }, (_message, ctx) => {
        attempts.push(ctx.attempt);
        if (ctx.attempt < 3) throw new UnderstudyError(ErrorCode.Unavailable, 'database away');
      }),
    );
    await messaging.publish(topic, text('a:1'));
    await vi.waitFor(() => {
      expect(attempts).toEqual([1, 2, 3]);
    });
    await messaging.publish(topic, text('a:2'));
    await vi.waitFor(() => {
      expect(attempts).toEqual([1, 2, 3, 1]);
    });
  });

  it('dead-letters a message after the last attempt, keeping the record and adding its origin', async () => {
    const driver = new InProcessDriver();
    const topic = testTopic();
    const messaging = await start(driver, (m) =>
      m.on(topic, { group: 'g', retry: { attempts: 2 } }, () => {
        throw new UnderstudyError(ErrorCode.Unavailable, 'still away');
      }),
    );
    await messaging.publish(topic, text('tenant-9:doomed'));
    const [dead] = await readRecords(driver, topic.deadLetter.name, 1);
    expect(new TextDecoder().decode(dead!.key)).toBe('tenant-9');
    expect(dead!.value).toEqual(
      new Uint8Array([0x0a, 15, ...new TextEncoder().encode('tenant-9:doomed')]),
    );
    expect(dead!.text).toMatchObject({
      [Header.Schema]: 'google.protobuf.StringValue',
      [Header.Producer]: 'unit-test',
      [Header.OriginTopic]: topic.name,
      [Header.OriginOffset]: '0',
      [Header.ErrorCode]: 'UNAVAILABLE',
      [Header.ErrorMessage]: 'still away',
      [Header.Attempts]: '2',
    });
    expect(Number(dead!.text[Header.OriginPartition])).toBe(dead!.partition);
    expect(Date.parse(dead!.text[Header.DeadLetteredAt]!)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('dead-letters non-retryable failures and unknown errors at once', async () => {
    const driver = new InProcessDriver();
    const topic = testTopic();
    const attempts: string[] = [];
    const messaging = await start(driver, (m) =>
      m.on(topic, { group: 'g' }, (message) => {
        attempts.push(message.value);
        if (message.value === 'a:invalid')
          throw new UnderstudyError(ErrorCode.InvalidArgument, 'bad call');
        throw new TypeError('bug');
      }),
    );
    await messaging.publishAll(topic, [text('a:invalid'), text('a:bug')]);
    const dead = await readRecords(driver, topic.deadLetter.name, 2);
    expect(
      dead.map((record) => [record.text[Header.ErrorCode], record.text[Header.Attempts]]),
    ).toEqual([
      ['INVALID_ARGUMENT', '1'],
      ['INTERNAL', '1'],
    ]);
    expect(attempts).toEqual(['a:invalid', 'a:bug']);
  });

  it('dead-letters undecodable records without calling the handler', async () => {
    const driver = new InProcessDriver();
    const topic = testTopic();
    const handler = vi.fn();
    const messaging = await start(driver, (m) => m.on(topic, { group: 'g' }, handler));
    await messaging.publisher.publishRecords([
      { topic: topic.name, key: 'k', value: new Uint8Array([0x0a, 0x05, 0x61]), headers: {} },
      {
        topic: topic.name,
        key: 'k',
        value: new Uint8Array(),
        headers: { [Header.Schema]: 'other.v1.Thing' },
      },
      { topic: topic.name, key: 'k', value: null, headers: {} },
    ]);
    const dead = await readRecords(driver, topic.deadLetter.name, 3);
    expect(dead.map((record) => record.text[Header.ErrorCode])).toEqual([
      'INVALID_ARGUMENT',
      'INVALID_ARGUMENT',
      'INVALID_ARGUMENT',
    ]);
    expect(dead.map((record) => record.text[Header.Attempts])).toEqual(['0', '0', '0']);
    expect(dead[1]!.text[Header.ErrorMessage]).toContain('other.v1.Thing');
    expect(dead[2]!.value).toBeNull();
    expect(handler).not.toHaveBeenCalled();
  });

  it('commits only after the handler: a record whose handler never finished is delivered again', async () => {
    const driver = new InProcessDriver();
    const topic = testTopic(1);
    const firstRun: string[] = [];
    const crashing = await start(
      driver,
      (m) =>
        m.on(topic, { group: 'g' }, (message) => {
          firstRun.push(message.value);
          // The process "dies" in the middle of handling the second record.
          return message.value === 'a:2' ? new Promise<void>(() => undefined) : undefined;
        }),
      { drainTimeoutMs: 50 },
    );
    await crashing.publishAll(topic, [text('a:1'), text('a:2'), text('a:3')]);
    await vi.waitFor(() => {
      expect(firstRun).toEqual(['a:1', 'a:2']);
    });
    await crashing.stop();

    const secondRun: string[] = [];
    await start(driver, (m) =>
      m.on(topic, { group: 'g' }, (message) => void secondRun.push(message.value)),
    );
    await vi.waitFor(() => {
      expect(secondRun).toEqual(['a:2', 'a:3']);
    });
  });

  it('keeps the order of messages with the same key while partitions run concurrently', async () => {
    const driver = new InProcessDriver();
    const topic = testTopic(4);
    const seen = new Map<string, number[]>();
    const messaging = await start(
      driver,
      (m) =>
        m.on(topic, { group: 'g' }, async (message) => {
          const [key = '', n = ''] = message.value.split(':');
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
          seen.set(key, [...(seen.get(key) ?? []), Number(n)]);
        }),
      { concurrency: 4 },
    );
    const messages = Array.from({ length: 80 }, (_, i) => text(`key${i % 8}:${i}`));
    for (const message of messages) await messaging.publish(topic, message);
    await vi.waitFor(() => {
      expect([...seen.values()].flat()).toHaveLength(80);
    });
    for (const [key, values] of seen) {
      expect(values, key).toEqual([...values].sort((a, b) => a - b));
    }
  });

  it('drains handlers in flight at shutdown and commits them', async () => {
    const driver = new InProcessDriver();
    const topic = testTopic(1);
    const done: string[] = [];
    let inFlight = (): void => undefined;
    const handling = new Promise<void>((resolve) => (inFlight = resolve));
    const messaging = await start(driver, (m) =>
      m.on(topic, { group: 'g' }, async (message) => {
        inFlight();
        await new Promise((resolve) => setTimeout(resolve, 150));
        done.push(message.value);
      }),
    );
    await messaging.publishAll(topic, [text('a:1'), text('a:2')]);
    await handling;
    await messaging.stop();
    // The first record finished during the drain; the second one was never started.
    expect(done).toEqual(['a:1']);
    expect(messaging.health()).toMatchObject({
      healthy: false,
      producer: { connected: false },
      consumers: [],
    });

    const again: string[] = [];
    await start(driver, (m) =>
      m.on(topic, { group: 'g' }, (message) => void again.push(message.value)),
    );
    await vi.waitFor(() => {
      expect(again).toEqual(['a:2']);
    });
  });

  it('abandons a retry waiting for its backoff at shutdown; the next consumer gets the record', async () => {
    const driver = new InProcessDriver();
    const topic = testTopic(1);
    const attempts: number[] = [];
    const messaging = await start(driver, (m) =>
      m.on(
        topic,
        { group: 'g', retry: { attempts: 5, baseDelayMs: 60_000, maxDelayMs: 60_000 } },
        (_m, ctx) => {
          attempts.push(ctx.attempt);
          throw new UnderstudyError(ErrorCode.Unavailable, 'away');
        },
      ),
    );
    await messaging.publish(topic, text('a:1'));
    await vi.waitFor(() => {
      expect(attempts).toEqual([1]);
    });
    await messaging.stop();

    const again: string[] = [];
    await start(driver, (m) =>
      m.on(topic, { group: 'g' }, (message) => void again.push(message.value)),
    );
    await vi.waitFor(() => {
      expect(again).toEqual(['a:1']);
    });
  });

  it('continues the trace of the publisher in the handler', async () => {
    const manager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(manager);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    try {
      const driver = new InProcessDriver();
      const topic = testTopic();
      const traceIds: (string | undefined)[] = [];
      const messaging = await start(driver, (m) =>
        m.on(topic, { group: 'g' }, () => {
          traceIds.push(trace.getActiveSpan()?.spanContext().traceId);
        }),
      );
      const traceId = '0af7651916cd43dd8448eb211c80319c';
      const parent = trace.wrapSpanContext({
        traceId,
        spanId: 'b7ad6b7169203331',
        traceFlags: TraceFlags.SAMPLED,
      });
      await context.with(trace.setSpan(context.active(), parent), () =>
        messaging.publish(topic, text('a:1')),
      );
      await vi.waitFor(() => {
        expect(traceIds).toEqual([traceId]);
      });
      const [record] = await readRecords(driver, topic.name, 1);
      expect(record!.text['traceparent']).toBe(`00-${traceId}-b7ad6b7169203331-01`);
    } finally {
      propagation.disable();
      context.disable();
    }
  });

  it('rejects a second handler for the same topic and group', () => {
    const messaging = new Messaging({ driver: new InProcessDriver(), producerName: 'unit-test' });
    const topic = testTopic();
    messaging.on(topic, { group: 'g' }, () => undefined);
    messaging.on(topic, { group: 'other' }, () => undefined);
    expect(() => messaging.on(topic, { group: 'g' }, () => undefined)).toThrow(
      /already has a handler/,
    );
    expect(() => messaging.on(testTopic(), { group: ' ' }, () => undefined)).toThrow(/no group/);
  });
});

describe('metrics', () => {
  it('counts published, handled, failed, retried and dead-lettered messages', async () => {
    const probe = MetricsProbe.install();
    try {
      const driver = new InProcessDriver();
      const topic = testTopic(1);
      const messaging = await start(driver, (m) =>
        m.on(topic, { group: 'g' }, (message, ctx) => {
          if (message.value === 'a:invalid')
            throw new UnderstudyError(ErrorCode.InvalidArgument, 'bad');
          if (ctx.attempt === 1) throw new UnderstudyError(ErrorCode.Unavailable, 'later');
        }),
      );
      await messaging.publishAll(topic, [text('a:ok'), text('a:invalid')]);
      await readRecords(driver, topic.deadLetter.name, 1);
      const totals = Object.fromEntries(
        (await probe.all()).map((metric) => [
          metric.descriptor.name.replace('understudy.messaging.', ''),
          totalOf(metric),
        ]),
      );
      expect(totals).toEqual({
        published: 2,
        handled: 1,
        failed: 2,
        retried: 1,
        dead_lettered: 1,
        'handler.duration': 3,
      });
    } finally {
      probe.uninstall();
    }
  });
});
