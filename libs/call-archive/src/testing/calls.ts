import { randomUUID } from 'node:crypto';
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { CallCapturedSchema, type CallCaptured } from '@understudy/contracts';
import {
  defineTopic,
  type MessagingDriver,
  type OutgoingRecord,
  type Topic,
} from '@understudy/messaging';

/** A calls topic of its own, so tests sharing a broker do not read each other's calls. */
export function callsTopic(partitions: number): Topic<typeof CallCapturedSchema> {
  return defineTopic({
    name: `test.calls-archive.${randomUUID()}`,
    schema: CallCapturedSchema,
    key: { description: 'call id', of: (event) => event.call?.callId ?? '' },
    partitions,
    retentionMs: 60 * 60 * 1000,
  });
}

export function capturedCall(
  tenantId: string,
  startTime: Date,
  callId: string = randomUUID(),
): CallCaptured {
  return create(CallCapturedSchema, {
    meta: {
      eventId: randomUUID(),
      tenantId,
      occurredAt: timestampFromDate(startTime),
      producer: 'test',
    },
    call: {
      tenantId,
      callId,
      requestModel: 'gpt-test',
      timing: { startTime: timestampFromDate(startTime) },
    },
  });
}

/** Publishes calls, all to one partition when `key` is given, else keyed by call id. */
export async function publishCalls(
  driver: MessagingDriver,
  topic: Topic,
  events: readonly (CallCaptured | Uint8Array)[],
  key?: string,
): Promise<void> {
  const producer = driver.createProducer();
  await producer.connect();
  try {
    await producer.send(
      events.map((event): OutgoingRecord => ({
        topic: topic.name,
        key: key ?? (event instanceof Uint8Array ? null : (event.call?.callId ?? null)),
        value: event instanceof Uint8Array ? event : toBinary(CallCapturedSchema, event),
        headers: {},
      })),
    );
  } finally {
    await producer.disconnect();
  }
}

/**
 * Where a group resumes: the first offset a new member of it is given, by partition, for the
 * partitions that still have records to read.
 */
export async function resumePositions(
  driver: MessagingDriver,
  group: string,
  topic: Topic,
  settleMs = 300,
): Promise<Map<number, string>> {
  const positions = new Map<number, string>();
  const consumer = driver.createConsumer({
    group,
    topics: [topic.name],
    concurrency: topic.partitions,
    commits: 'manual',
    deliver: (record) => {
      if (!positions.has(record.partition)) positions.set(record.partition, record.offset);
      return Promise.resolve();
    },
  });
  await consumer.start();
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  await consumer.stop();
  return positions;
}
