import { create, fromBinary } from '@bufbuild/protobuf';
import { StringValueSchema } from '@bufbuild/protobuf/wkt';
import { startKafka, uniqueName, type KafkaServer } from '@understudy/testbed';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Messaging } from '../messaging.js';
import { readRecords, testTopic } from '../testing/helpers.js';
import { KafkaDriver } from './kafka-driver.js';

/**
 * Duplicates policy: the producer is idempotent, so its retries across a broker restart add no
 * records (asserted on the topic). Consumers are at-least-once: a commit lost in the restart
 * makes a record arrive again, so handlers must be idempotent (by event id); the test counts
 * such redeliveries but does not forbid them.
 */
describe('a broker restart while publishing', () => {
  let server: KafkaServer;

  beforeAll(async () => {
    server = await startKafka({ name: 'kafka-restart' });
  }, 180_000);

  afterAll(async () => {
    await server.stop();
  });

  it('loses no acknowledged message and duplicates none', { timeout: 300_000 }, async () => {
    const driver = new KafkaDriver({
      brokers: server.endpoint.brokers,
      clientId: uniqueName('restart'),
    });
    const topic = testTopic(3);
    const consumed: string[] = [];
    const messaging = new Messaging({
      driver,
      producerName: 'restart-test',
      drainTimeoutMs: 5_000,
    });
    messaging.on(topic, { group: uniqueName('group') }, (message) => {
      consumed.push(message.value);
    });
    await messaging.start();

    const acknowledged: string[] = [];
    const failed: string[] = [];
    let restarted: Promise<void> | undefined;
    let acknowledgedWhenBack = -1;
    let slowestMs = 0;
    for (let i = 0; i < 300; i += 1) {
      const value = `key${i % 5}:${i}`;
      if (i === 100) {
        restarted = server.restart().then(() => {
          acknowledgedWhenBack = acknowledged.length;
        });
      }
      const started = performance.now();
      try {
        await messaging.publish(topic, create(StringValueSchema, { value }));
        acknowledged.push(value);
      } catch {
        failed.push(value);
      }
      slowestMs = Math.max(slowestMs, performance.now() - started);
    }
    await restarted;
    expect(failed).toEqual([]);
    expect(acknowledged).toHaveLength(300);
    // The broker really went away mid-stream: a publish waited for it, and it came back before the end.
    expect(slowestMs).toBeGreaterThan(500);
    expect(acknowledgedWhenBack).toBeGreaterThan(100);
    expect(acknowledgedWhenBack).toBeLessThan(300);

    await vi.waitFor(
      () => {
        expect(new Set(consumed).size).toBe(300);
      },
      { timeout: 120_000, interval: 200 },
    );
    await messaging.stop();

    const onTopic = await readRecords(driver, topic.name, 300, 60_000);
    const values = onTopic.map((record) => fromBinary(StringValueSchema, record.value!).value);
    expect(values).toHaveLength(300);
    expect(new Set(values)).toEqual(new Set(acknowledged));
    console.info(
      `slowest publish ${Math.round(slowestMs)} ms; consumer redeliveries: ${consumed.length - 300}`,
    );
  });
});
