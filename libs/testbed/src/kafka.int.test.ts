import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { KafkaEndpoint } from './endpoints.js';
import { startKafka, type KafkaServer } from './kafka.js';
import { isGroupAlive } from './leftovers.js';
import { uniqueName } from './names.js';

function client(endpoint: KafkaEndpoint): Kafka {
  const config: KafkaConfig = { brokers: endpoint.brokers, logLevel: logLevel.NOTHING };
  return new Kafka({ ...config, clientId: 'testbed-test', retry: { retries: 8 } });
}

async function produce(kafka: Kafka, topic: string, values: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: values.map((value) => ({ value })) });
  await producer.disconnect();
}

/** Reads `count` messages from the start of a topic with a new consumer group. */
async function consume(kafka: Kafka, topic: string, count: number): Promise<string[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('group') });
  const values: string[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachMessage: ({ message }) => {
            values.push(message.value?.toString() ?? '');
            if (values.length === count) resolve();
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return values;
}

describe('Kafka', () => {
  it('the shared broker takes and delivers messages through a consumer group', async () => {
    const kafka = client(inject('testbed').kafka);
    const topic = uniqueName('testbed');
    await produce(kafka, topic, ['one', 'two']);
    expect(await consume(kafka, topic, 2)).toEqual(['one', 'two']);
  });

  it('does not create topics on first use', async () => {
    const producer = client(inject('testbed').kafka).producer();
    await producer.connect();
    const topic = uniqueName('missing');
    await expect(
      producer.send({ topic, messages: [{ value: 'x' }], acks: 1, timeout: 1000 }),
    ).rejects.toThrow();
    await producer.disconnect();
  });

  describe('an own broker', () => {
    let server: KafkaServer;

    beforeAll(async () => {
      server = await startKafka({ name: 'kafka-restart' });
    });

    afterAll(async () => {
      await server.stop();
    });

    it('listens on loopback only', () => {
      expect(server.endpoint.brokers).toEqual([expect.stringMatching(/^127\.0\.0\.1:\d+$/)]);
    });

    it('keeps its topics and messages across a restart', async () => {
      const topic = uniqueName('durable');
      await produce(client(server.endpoint), topic, ['before']);
      const before = server.processGroup;
      await server.restart();
      expect(await isGroupAlive(before)).toBe(false);
      expect(server.processGroup).not.toBe(before);
      expect(await consume(client(server.endpoint), topic, 1)).toEqual(['before']);
    });
  });
});
