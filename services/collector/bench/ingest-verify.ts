/**
 * Zero loss, checked after a run: the clients flushed, the joiner given time to publish, then
 * every span the collector acknowledged must be a fragment on the fragments topic, and every
 * acknowledged LLM call a `CallCaptured` on the calls topic.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import type { LoadClients } from './ingest-clients.js';

const fragmentsTopic = 'understudy.collector.fragments.v1';
const callsTopic = 'understudy.calls.captured.v1';

/** Field numbers of `CaptureFragment` (proto/understudy/v1/capture.proto). */
const fragmentField = { traceId: 2, spanId: 3, emitted: 8 } as const;

export interface Verification {
  acceptedSpans: number;
  acceptedCalls: number;
  droppedByClients: number;
  failedSpans: number;
  /** Fragments of spans (not the joiner's emitted markers), and how many distinct spans. */
  spanFragments: number;
  distinctSpans: number;
  markers: number;
  callsOnTopic: number;
  lostSpans: number;
  /** Spans on the topic more than once, or whose export the client counted as failed. */
  extraSpans: number;
  lostCalls: number;
  extraCalls: number;
  drainSeconds: number;
}

export async function recordsOn(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, { high, low }) => sum + Number(high) - Number(low), 0);
}

/** Reads a fragment's span and kind off the wire, without decoding its content. */
function scan(value: Uint8Array): { span: string; emitted: boolean } {
  const reader = new BinaryReader(value);
  let traceId = '';
  let spanId = '';
  let emitted = false;
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === fragmentField.traceId) traceId = reader.string();
    else if (field === fragmentField.spanId) spanId = reader.string();
    else {
      if (field === fragmentField.emitted) emitted = true;
      reader.skip(wireType, field);
    }
  }
  return { span: `${traceId}/${spanId}`, emitted };
}

/** Reads the fragments topic from the start to its end now. */
async function countFragments(
  brokers: readonly string[],
  admin: Admin,
): Promise<{ spanFragments: number; distinctSpans: number; markers: number }> {
  const ends = new Map(
    (await admin.fetchTopicOffsets(fragmentsTopic))
      .filter(({ high, low }) => high !== low)
      .map(({ partition, high }) => [partition, BigInt(high)]),
  );
  const spans = new Set<string>();
  let spanFragments = 0;
  let markers = 0;
  if (ends.size === 0) return { spanFragments, distinctSpans: 0, markers };
  const consumer = new Kafka({
    clientId: 'ingest-bench-verify',
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
  }).consumer({ groupId: `ingest-bench-verify-${String(Date.now())}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: fragmentsTopic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachBatch: ({ batch }) => {
            const end = ends.get(batch.partition);
            for (const message of batch.messages) {
              if (end === undefined || BigInt(message.offset) >= end) continue;
              if (message.value === null) continue;
              const { span, emitted } = scan(message.value);
              if (emitted) markers += 1;
              else {
                spanFragments += 1;
                spans.add(span);
              }
              if (BigInt(message.offset) + 1n >= end) ends.delete(batch.partition);
            }
            if (ends.size === 0) resolve();
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return { spanFragments, distinctSpans: spans.size, markers };
}

/**
 * Flushes the clients, waits for the joiner to publish every acknowledged call (giving up when
 * none comes for 30 s), then counts what Kafka holds. Without the joiner (--edge-only) only the
 * fragments are checked.
 */
export async function verify(
  clients: LoadClients,
  brokers: readonly string[],
  edgeOnly: boolean,
): Promise<Verification> {
  const drainStarted = performance.now();
  const final = await clients.flush();
  const acceptedSpans = final.reduce((sum, s) => sum + s.acceptedSpans, 0);
  const acceptedCalls = final.reduce((sum, s) => sum + s.acceptedCalls, 0);
  const admin = new Kafka({
    clientId: 'ingest-bench-verify',
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    let calls = await recordsOn(admin, callsTopic);
    let changed = performance.now();
    while (!edgeOnly && calls < acceptedCalls && performance.now() - changed < 30_000) {
      await sleep(1000);
      const now = await recordsOn(admin, callsTopic);
      if (now !== calls) changed = performance.now();
      calls = now;
    }
    const drainSeconds = (performance.now() - drainStarted) / 1000;
    const { spanFragments, distinctSpans, markers } = await countFragments(brokers, admin);
    calls = await recordsOn(admin, callsTopic);
    return {
      acceptedSpans,
      acceptedCalls,
      droppedByClients: final.reduce((sum, s) => sum + s.droppedSpans, 0),
      failedSpans: final.reduce((sum, s) => sum + s.failedSpans, 0),
      spanFragments,
      distinctSpans,
      markers,
      callsOnTopic: calls,
      lostSpans: Math.max(0, acceptedSpans - distinctSpans),
      extraSpans: spanFragments - Math.min(acceptedSpans, distinctSpans),
      lostCalls: edgeOnly ? 0 : Math.max(0, acceptedCalls - calls),
      extraCalls: edgeOnly ? 0 : Math.max(0, calls - acceptedCalls),
      drainSeconds,
    };
  } finally {
    await admin.disconnect();
  }
}
