import { randomUUID } from 'node:crypto';
import { StringValueSchema } from '@bufbuild/protobuf/wkt';
import { vi } from 'vitest';
import type { IncomingRecord, MessagingDriver } from '../driver.js';
import { headersAsText } from '../headers.js';
import { defineTopic, type Topic } from '../topic.js';

/** A topic of `google.protobuf.StringValue`; the key is the text before the first `:`. */
export function testTopic(partitions = 3): Topic<typeof StringValueSchema> {
  return defineTopic({
    name: `test.messaging.${randomUUID()}`,
    schema: StringValueSchema,
    key: {
      description: 'text before the first colon',
      of: (message) => message.value.split(':')[0] ?? '',
    },
    partitions,
    retentionMs: 60 * 60 * 1000,
  });
}

export interface ReadRecord extends IncomingRecord {
  readonly text: Readonly<Record<string, string>>;
}

/** Reads `count` records of a topic with a fresh consumer group, as any other client would. */
export async function readRecords(
  driver: MessagingDriver,
  topic: string,
  count: number,
  timeoutMs = 15_000,
): Promise<ReadRecord[]> {
  const records: ReadRecord[] = [];
  const consumer = driver.createConsumer({
    group: `reader-${randomUUID()}`,
    topics: [topic],
    concurrency: 1,
    deliver: (record) => {
      records.push({ ...record, text: headersAsText(record.headers) });
      return Promise.resolve();
    },
  });
  await consumer.start();
  try {
    await vi.waitFor(
      () => {
        if (records.length < count) throw new Error(`${records.length} of ${count} records read`);
      },
      { timeout: timeoutMs, interval: 20 },
    );
  } finally {
    await consumer.stop();
  }
  return records;
}
