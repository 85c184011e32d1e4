import { randomUUID } from 'node:crypto';
import { Partitioners } from 'kafkajs';
import { describe, expect, it, vi } from 'vitest';
import type { DriverConsumer, IncomingRecord, TopicPartition } from '../driver.js';
import { readRecords } from '../testing/helpers.js';
import { InProcessDriver } from './in-process-driver.js';
import { partitionOf } from './murmur2.js';

const decoder = new TextDecoder();
const text = (bytes: Uint8Array | null): string => (bytes === null ? '' : decoder.decode(bytes));

async function driverWithTopic(
  partitions = 4,
): Promise<{ driver: InProcessDriver; topic: string }> {
  const driver = new InProcessDriver({ redeliveryDelayMs: 10 });
  const topic = `t-${randomUUID()}`;
  await driver.ensureTopics([
    { name: topic, partitions, retentionMs: -1, cleanupPolicy: 'delete' },
  ]);
  return { driver, topic };
}

async function publish(
  driver: InProcessDriver,
  topic: string,
  keys: readonly string[],
): Promise<void> {
  const producer = driver.createProducer();
  await producer.connect();
  await producer.send(
    keys.map((key, i) => ({
      topic,
      key,
      value: new TextEncoder().encode(`${key}:${i}`),
      headers: { n: String(i) },
    })),
  );
  await producer.disconnect();
}

function collector(
  driver: InProcessDriver,
  topic: string,
  group: string,
  seen: IncomingRecord[],
): DriverConsumer {
  return driver.createConsumer({
    group,
    topics: [topic],
    concurrency: 4,
    deliver: (record) => {
      seen.push(record);
      return Promise.resolve();
    },
  });
}

describe('partitioning', () => {
  it('places keys where the Kafka default partitioner does', () => {
    const kafka = Partitioners.DefaultPartitioner();
    const partitionMetadata = Array.from({ length: 12 }, (_, partitionId) => ({
      partitionId,
      leader: 1,
      replicas: [1],
      isr: [1],
      partitionErrorCode: 0,
    }));
    for (const key of ['', 'a', 'ab', 'abc', 'abcd', 'tenant-7/call-42', 'ünïcødé', randomUUID()]) {
      const expected = kafka({ topic: 't', partitionMetadata, message: { key, value: null } });
      expect(partitionOf(new TextEncoder().encode(key), 12)).toBe(expected);
    }
  });
});

describe('InProcessDriver', () => {
  it('keeps the order of each partition and delivers every record once per group', async () => {
    const { driver, topic } = await driverWithTopic();
    const keys = Array.from({ length: 60 }, (_, i) => `k${i % 5}`);
    await publish(driver, topic, keys);
    const records = await readRecords(driver, topic, keys.length);
    expect(records).toHaveLength(60);
    for (const key of new Set(keys)) {
      const values = records
        .filter((r) => text(r.key) === key)
        .map((r) => Number(text(r.value).split(':')[1]));
      expect(values).toEqual([...values].sort((a, b) => a - b));
      expect(new Set(records.filter((r) => text(r.key) === key).map((r) => r.partition)).size).toBe(
        1,
      );
    }
    // Another group reads everything again, from the earliest record.
    expect(await readRecords(driver, topic, 60)).toHaveLength(60);
  });

  it('shares the partitions of a group between its members and hands them over when one leaves', async () => {
    const { driver, topic } = await driverWithTopic(4);
    const first: IncomingRecord[] = [];
    const second: IncomingRecord[] = [];
    const a = collector(driver, topic, 'g', first);
    const b = collector(driver, topic, 'g', second);
    await a.start();
    await b.start();
    const keys = Array.from({ length: 40 }, (_, i) => `key-${i}`);
    await publish(driver, topic, keys);
    await vi.waitFor(() => {
      expect(first.length + second.length).toBe(40);
    });
    const partitionsOf = (records: IncomingRecord[]): Set<number> =>
      new Set(records.map((r) => r.partition));
    expect(partitionsOf(first).size).toBe(2);
    expect(partitionsOf(second).size).toBe(2);
    expect([...partitionsOf(first)].filter((p) => partitionsOf(second).has(p))).toEqual([]);

    await b.stop();
    expect(b.connected).toBe(false);
    const handledBySecond = second.length;
    await publish(driver, topic, keys);
    await vi.waitFor(() => {
      expect(first.length + second.length).toBe(80);
    });
    expect(second).toHaveLength(handledBySecond);
    expect(partitionsOf(first).size).toBe(4);
    await a.stop();
  });

  it('delivers a rejected record again, before the records after it', async () => {
    const { driver, topic } = await driverWithTopic(1);
    await publish(driver, topic, ['a', 'a', 'a']);
    const attempts: string[] = [];
    let failures = 2;
    const consumer = driver.createConsumer({
      group: 'g',
      topics: [topic],
      concurrency: 1,
      deliver: (record) => {
        attempts.push(record.offset);
        if (record.offset === '1' && failures-- > 0) return Promise.reject(new Error('not yet'));
        return Promise.resolve();
      },
    });
    await consumer.start();
    await vi.waitFor(() => {
      expect(attempts).toEqual(['0', '1', '1', '1', '2']);
    });
    await consumer.stop();
  });

  it('resumes a group after its committed offset', async () => {
    const { driver, topic } = await driverWithTopic(1);
    await publish(driver, topic, ['a', 'a']);
    const seen: IncomingRecord[] = [];
    const first = collector(driver, topic, 'g', seen);
    await first.start();
    await vi.waitFor(() => {
      expect(seen).toHaveLength(2);
    });
    await first.stop();
    await publish(driver, topic, ['a']);
    const second = collector(driver, topic, 'g', seen);
    await second.start();
    await vi.waitFor(() => {
      expect(seen.map((r) => r.offset)).toEqual(['0', '1', '2']);
    });
    await second.stop();
  });

  it('refuses unknown topics and publishing while disconnected', async () => {
    const driver = new InProcessDriver();
    const producer = driver.createProducer();
    await expect(
      producer.send([{ topic: 'x', key: null, value: null, headers: {} }]),
    ).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
    });
    await producer.connect();
    expect(producer.connected).toBe(true);
    await expect(
      producer.send([{ topic: 'nope', key: null, value: null, headers: {} }]),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    const consumer = driver.createConsumer({
      group: 'g',
      topics: ['nope'],
      concurrency: 1,
      deliver: () => Promise.resolve(),
    });
    await expect(consumer.start()).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('drops records older than the retention time', async () => {
    const driver = new InProcessDriver();
    await driver.ensureTopics([
      { name: 'short', partitions: 1, retentionMs: 20, cleanupPolicy: 'delete' },
    ]);
    await publish(driver, 'short', ['old']);
    await new Promise((resolve) => setTimeout(resolve, 40));
    await publish(driver, 'short', ['new']);
    const [record, ...rest] = await readRecords(driver, 'short', 1);
    expect(text(record?.key ?? null)).toBe('new');
    expect(record?.offset).toBe('1');
    expect(rest).toEqual([]);
  });
});

describe('InProcessDriver with manual commits', () => {
  function manual(
    driver: InProcessDriver,
    topic: string,
    seen: IncomingRecord[],
    assignments: (readonly TopicPartition[])[] = [],
    deliver: (record: IncomingRecord) => Promise<void> = () => Promise.resolve(),
  ): DriverConsumer {
    return driver.createConsumer({
      group: 'g',
      topics: [topic],
      concurrency: 4,
      commits: 'manual',
      onAssignment: (partitions) => assignments.push(partitions),
      deliver: async (record) => {
        await deliver(record);
        seen.push(record);
      },
    });
  }

  it('commits only what commit() says, and a restart resumes there', async () => {
    const { driver, topic } = await driverWithTopic(1);
    await publish(driver, topic, ['a', 'a', 'a', 'a']);
    const seen: IncomingRecord[] = [];
    const first = manual(driver, topic, seen);
    await first.start();
    await vi.waitFor(() => {
      expect(seen.map((r) => r.offset)).toEqual(['0', '1', '2', '3']);
    });
    // The log ended at 4 when each record was read: every one saw the same watermark.
    expect(seen.map((r) => r.highWatermark)).toEqual(['4', '4', '4', '4']);
    await first.commit([{ topic, partition: 0, offset: '2' }]);
    await first.stop();

    const second = manual(driver, topic, seen);
    await second.start();
    await vi.waitFor(() => {
      expect(seen.map((r) => r.offset)).toEqual(['0', '1', '2', '3', '2', '3']);
    });
    await second.stop();
  });

  it('delivers a rejected record again without rewinding to the commit', async () => {
    const { driver, topic } = await driverWithTopic(1);
    await publish(driver, topic, ['a', 'a', 'a']);
    const seen: IncomingRecord[] = [];
    let failures = 1;
    const consumer = manual(driver, topic, seen, [], (record) =>
      record.offset === '2' && failures-- > 0
        ? Promise.reject(new Error('not yet'))
        : Promise.resolve(),
    );
    await consumer.start();
    await vi.waitFor(() => {
      expect(seen.map((r) => r.offset)).toEqual(['0', '1', '2']);
    });
    await consumer.stop();
  });

  it('reports assignments, rewinds every partition to its commit on a rebalance, and ignores commits of partitions it lost', async () => {
    const { driver, topic } = await driverWithTopic(2);
    const keys = Array.from({ length: 20 }, (_, i) => `key-${i}`);
    await publish(driver, topic, keys);
    const firstSeen: IncomingRecord[] = [];
    const firstAssignments: (readonly TopicPartition[])[] = [];
    const first = manual(driver, topic, firstSeen, firstAssignments);
    await first.start();
    expect(firstAssignments).toEqual([
      [
        { topic, partition: 0 },
        { topic, partition: 1 },
      ],
    ]);
    await vi.waitFor(() => {
      expect(firstSeen).toHaveLength(20);
    });
    const endOf = (partition: number): string =>
      String(firstSeen.filter((r) => r.partition === partition).length);
    const ends = [endOf(0), endOf(1)];
    // Partition 0 is done; partition 1 is committed up to one record before its end.
    await first.commit([
      { topic, partition: 0, offset: ends[0]! },
      { topic, partition: 1, offset: String(Number(ends[1]) - 1) },
    ]);

    const secondSeen: IncomingRecord[] = [];
    const secondAssignments: (readonly TopicPartition[])[] = [];
    const second = manual(driver, topic, secondSeen, secondAssignments);
    await second.start();
    expect(firstAssignments.at(-1)).toEqual([{ topic, partition: 0 }]);
    expect(secondAssignments).toEqual([[{ topic, partition: 1 }]]);
    // The new owner of partition 1 resumes at the commit: the last record only.
    await vi.waitFor(() => {
      expect(secondSeen.map((r) => r.offset)).toEqual([String(Number(ends[1]) - 1)]);
    });
    // Partition 0 was committed to its end, so the rewind redelivers nothing.
    expect(firstSeen).toHaveLength(20);

    // Partition 1 is no longer the first member's: its commit is ignored.
    await first.commit([{ topic, partition: 1, offset: '0' }]);
    await second.commit([{ topic, partition: 1, offset: ends[1]! }]);
    await first.stop();
    expect(firstAssignments.at(-1)).toEqual([]);
    expect(secondAssignments.at(-1)).toEqual([
      { topic, partition: 0 },
      { topic, partition: 1 },
    ]);
    await publish(driver, topic, ['key-0']);
    await vi.waitFor(() => {
      expect(secondSeen).toHaveLength(2);
    });
    await second.stop();
  });

  it('rewinds a partition it keeps to the commit when the group rebalances', async () => {
    const { driver, topic } = await driverWithTopic(2);
    await publish(driver, topic, ['a', 'a']);
    const partition = partitionOf(new TextEncoder().encode('a'), 2);
    const seen: IncomingRecord[] = [];
    const first = manual(driver, topic, seen);
    await first.start();
    await vi.waitFor(() => {
      expect(seen).toHaveLength(2);
    });
    // A second member joins; whatever the first keeps is delivered again from offset 0.
    const other: IncomingRecord[] = [];
    const second = manual(driver, topic, other);
    await second.start();
    await vi.waitFor(() => {
      expect([...seen, ...other].map((r) => r.offset)).toEqual(['0', '1', '0', '1']);
    });
    expect([...seen, ...other].every((r) => r.partition === partition)).toBe(true);
    await Promise.all([first.stop(), second.stop()]);
  });

  it('refuses commit() in record mode', async () => {
    const { driver, topic } = await driverWithTopic(1);
    const consumer = collector(driver, topic, 'g', []);
    await consumer.start();
    await expect(consumer.commit([{ topic, partition: 0, offset: '1' }])).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
    });
    await consumer.stop();
  });
});
