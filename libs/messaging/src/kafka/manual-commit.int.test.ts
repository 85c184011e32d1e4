import { uniqueName } from '@understudy/testbed';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import type { DriverConsumer, IncomingRecord, TopicPartition } from '../driver.js';
import { KafkaDriver } from './kafka-driver.js';

const { kafka } = inject('testbed');
const started: DriverConsumer[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((consumer) => consumer.stop()));
});

function kafkaDriver(): KafkaDriver {
  return new KafkaDriver({ brokers: kafka.brokers, clientId: uniqueName('manual') });
}

async function topicWithRecords(driver: KafkaDriver, keys: readonly string[]): Promise<string> {
  const topic = uniqueName('test.manual-commit');
  await driver.ensureTopics([
    { name: topic, partitions: 2, retentionMs: 3_600_000, cleanupPolicy: 'delete' },
  ]);
  const producer = driver.createProducer();
  await producer.connect();
  await producer.send(
    keys.map((key, i) => ({ topic, key, value: new TextEncoder().encode(String(i)), headers: {} })),
  );
  await producer.disconnect();
  return topic;
}

interface Member {
  readonly consumer: DriverConsumer;
  readonly seen: IncomingRecord[];
  readonly assignments: (readonly TopicPartition[])[];
}

async function member(driver: KafkaDriver, group: string, topic: string): Promise<Member> {
  const seen: IncomingRecord[] = [];
  const assignments: (readonly TopicPartition[])[] = [];
  const consumer = driver.createConsumer({
    group,
    topics: [topic],
    concurrency: 2,
    commits: 'manual',
    onAssignment: (partitions) => {
      assignments.push([...partitions].sort((a, b) => a.partition - b.partition));
    },
    deliver: (record) => {
      seen.push(record);
      return Promise.resolve();
    },
  });
  started.push(consumer);
  await consumer.start();
  return { consumer, seen, assignments };
}

/** The group's committed offsets as the broker holds them, by partition. */
async function committed(group: string, topic: string): Promise<Map<number, string>> {
  const admin = new Kafka({ brokers: kafka.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return new Map(offsets?.partitions.map(({ partition, offset }) => [partition, offset]));
  } finally {
    await admin.disconnect();
  }
}

async function stop(consumer: DriverConsumer): Promise<void> {
  started.splice(started.indexOf(consumer), 1);
  await consumer.stop();
}

const offsetsOf = (records: readonly IncomingRecord[], partition: number): string[] =>
  records.filter((record) => record.partition === partition).map((record) => record.offset);

describe('KafkaDriver with manual commits', () => {
  it('persists what commit() says, and a restart redelivers what was not committed', async () => {
    const driver = kafkaDriver();
    const keys = Array.from({ length: 40 }, (_, i) => `key-${i}`);
    const topic = await topicWithRecords(driver, keys);
    const group = uniqueName('group');

    const first = await member(driver, group, topic);
    expect(first.assignments).toEqual([
      [
        { topic, partition: 0 },
        { topic, partition: 1 },
      ],
    ]);
    await vi.waitFor(() => {
      expect(first.seen).toHaveLength(40);
    }, 30_000);
    const ends = [0, 1].map((partition) => offsetsOf(first.seen, partition).length);
    expect(Math.min(...ends)).toBeGreaterThan(1);
    // Everything was published before the fetch: each record knew its partition's end.
    for (const record of first.seen) {
      expect(record.highWatermark).toBe(String(ends[record.partition]));
    }
    // Nothing was committed by delivering.
    expect(await committed(group, topic)).toEqual(
      new Map([
        [0, '-1'],
        [1, '-1'],
      ]),
    );

    const resumeAt = ends[1]! - 2;
    await first.consumer.commit([
      { topic, partition: 0, offset: String(ends[0]) },
      { topic, partition: 1, offset: String(resumeAt) },
    ]);
    expect(await committed(group, topic)).toEqual(
      new Map([
        [0, String(ends[0])],
        [1, String(resumeAt)],
      ]),
    );
    await stop(first.consumer);
    expect(first.assignments.at(-1)).toEqual([]);

    const second = await member(kafkaDriver(), group, topic);
    await vi.waitFor(() => {
      expect(second.seen).toHaveLength(2);
    }, 30_000);
    // Give a wrongly redelivered record the time to show up.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(offsetsOf(second.seen, 0)).toEqual([]);
    expect(offsetsOf(second.seen, 1)).toEqual([String(resumeAt), String(resumeAt + 1)]);
  });

  it('reports the assignment on every rebalance and ignores commits of partitions moved away', async () => {
    const driver = kafkaDriver();
    const topic = await topicWithRecords(driver, ['a', 'b', 'c', 'd', 'e', 'f']);
    const group = uniqueName('group');
    const first = await member(driver, group, topic);
    await vi.waitFor(() => {
      expect(first.seen).toHaveLength(6);
    }, 30_000);

    const second = await member(kafkaDriver(), group, topic);
    // The first member learns of the rebalance at its next heartbeat and gives up a partition.
    await vi.waitFor(() => {
      expect(first.assignments.at(-1)).toHaveLength(1);
    }, 30_000);
    expect(first.assignments.at(-2)).toEqual([]);
    const [kept] = first.assignments.at(-1)!;
    const [moved] = second.assignments.at(-1)!;
    expect(second.assignments).toHaveLength(1);
    expect([kept?.partition, moved?.partition].sort()).toEqual([0, 1]);

    await first.consumer.commit([
      { topic, partition: kept!.partition, offset: '1' },
      { topic, partition: moved!.partition, offset: '1' },
    ]);
    expect(await committed(group, topic)).toEqual(
      new Map([
        [kept!.partition, '1'],
        [moved!.partition, '-1'],
      ]),
    );
  });

  it('refuses commit() in record mode', async () => {
    const driver = kafkaDriver();
    const topic = await topicWithRecords(driver, ['a']);
    const consumer = driver.createConsumer({
      group: uniqueName('group'),
      topics: [topic],
      concurrency: 1,
      deliver: () => Promise.resolve(),
    });
    started.push(consumer);
    await consumer.start();
    await expect(consumer.commit([{ topic, partition: 0, offset: '1' }])).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
    });
  });
});
