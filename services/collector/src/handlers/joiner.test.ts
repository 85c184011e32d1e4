import { fromBinary } from '@bufbuild/protobuf';
import { CallCapturedSchema, StepKind, type CallCaptured } from '@understudy/contracts';
import {
  InProcessDriver,
  Publisher,
  ensureTopics,
  topics,
  type DriverConsumer,
} from '@understudy/messaging';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { callFragment, plainOnly, stepFragment } from '../testing/fragments.js';
import { Joiner } from './joiner.js';

describe('Joiner', () => {
  let driver: InProcessDriver;
  let publisher: Publisher;
  let captured: CallCaptured[];
  let reader: DriverConsumer;
  const joiners: Joiner[] = [];

  function joiner(): Joiner {
    const created = new Joiner({
      driver,
      publishCalls: (events) => publisher.publishAll(topics.callsCaptured, events),
      publishFragments: (fragments) => publisher.publishAll(topics.captureFragments, fragments),
      seal: plainOnly,
      settings: { joinTimeoutMs: 60_000, dedupWindowMs: 60_000, maxHeldBytes: 1e9, settleMs: 100 },
      tickMs: 20,
      producer: 'collector',
    });
    joiners.push(created);
    return created;
  }

  beforeEach(async () => {
    driver = new InProcessDriver({ redeliveryDelayMs: 10 });
    await ensureTopics(driver, [topics.captureFragments, topics.callsCaptured]);
    publisher = new Publisher(driver, { producerName: 'test' });
    await publisher.connect();
    captured = [];
    reader = driver.createConsumer({
      group: 'reader',
      topics: [topics.callsCaptured.name],
      concurrency: 1,
      deliver: (record) => {
        if (record.value) captured.push(fromBinary(CallCapturedSchema, record.value));
        return Promise.resolve();
      },
    });
    await reader.start();
  });

  afterEach(async () => {
    for (const running of joiners.splice(0)) await running.stop();
    await reader.stop();
    await publisher.disconnect();
  });

  const spans = () => captured.map((event) => event.call?.spanId).sort();

  it('publishes joined calls with their agent, and each call once across a restart', async () => {
    const first = joiner();
    await first.start();
    await publisher.publishAll(topics.captureFragments, [
      callFragment('c1'),
      callFragment('c2', 'a1'),
    ]);
    await vi.waitFor(() => {
      expect(spans()).toEqual(['c1']);
    });

    // A restart replays c2, still waiting, and c1's marker, so c1 is not published again.
    await first.stop();
    const second = joiner();
    await second.start();
    await publisher.publishAll(topics.captureFragments, [
      callFragment('c1'),
      stepFragment('a1', '', StepKind.AGENT, 'triage'),
    ]);
    await vi.waitFor(() => {
      expect(spans()).toEqual(['c1', 'c2']);
    });
    const c2 = captured.find((event) => event.call?.spanId === 'c2');
    expect(c2?.call?.context).toMatchObject({ agentName: 'triage', ancestorSpanIds: ['a1'] });
    expect(c2?.meta?.eventId).toMatch(/^[0-9a-f-]{36}$/);
    // Give a duplicate the time to show up if it were going to.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(spans()).toEqual(['c1', 'c2']);
  });
});
