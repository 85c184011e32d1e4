import {
  Operation,
  StepKind,
  type CaptureFragment,
  type ContentEventFragment,
} from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import {
  callFragment,
  emittedFragment,
  eventFragment,
  stepFragment,
} from '../testing/fragments.js';
import { PartitionJoiner, type JoinerSettings } from './joiner.js';

const settings: JoinerSettings = {
  joinTimeoutMs: 10_000,
  dedupWindowMs: 60_000,
  maxHeldBytes: 1_000_000,
  settleMs: 500,
};
/** Feeds fragments at consecutive offsets from `start`. */
function feed(joiner: PartitionJoiner, fragments: CaptureFragment[], now: number, start = 0n) {
  fragments.forEach((fragment, index) => {
    joiner.add({ fragment, offset: start + BigInt(index), size: 100 }, now);
  });
}

const texts = (events: readonly ContentEventFragment[]) =>
  events.map((event) =>
    event.content.case === 'plainContent'
      ? [...event.content.value.inputMessages, ...event.content.value.outputMessages]
          .flatMap((m) => m.parts)
          .map((p) => (p.kind.case === 'text' ? p.kind.value.text : ''))
          .join()
      : '',
  );

describe('PartitionJoiner', () => {
  it('lets a root call with its content go at once', () => {
    const joiner = new PartitionJoiner(settings);
    feed(joiner, [callFragment('a1')], 0);
    const [due] = joiner.due(0);
    expect(due).toMatchObject({ reason: 'complete', complete: true, ancestors: [] });
    expect(due?.call.callId).toBe('call-a1');
  });

  it('holds a call until its ancestors up to the root arrive, through spans no format knows', () => {
    const joiner = new PartitionJoiner(settings);
    feed(joiner, [callFragment('c1', 'l1')], 0);
    expect(joiner.due(1)).toEqual([]);
    feed(joiner, [stepFragment('l1', 'a1', StepKind.UNSPECIFIED)], 2, 1n);
    expect(joiner.due(3)).toEqual([]);
    feed(
      joiner,
      [
        stepFragment('a1', 'w1', StepKind.AGENT, 'triage'),
        stepFragment('w1', '', StepKind.WORKFLOW, 'support'),
      ],
      4,
      2n,
    );
    const [due] = joiner.due(5);
    expect(due?.reason).toBe('complete');
    expect(due?.ancestors.map((a) => [a.spanId, a.step?.name])).toEqual([
      ['l1', ''],
      ['a1', 'triage'],
      ['w1', 'support'],
    ]);
  });

  it('counts an embeddings span around provider requests (AI SDK 7 embedMany) as no call', () => {
    const embeddings = { operation: Operation.EMBEDDINGS };
    for (const order of ['requests first', 'enclosing first']) {
      const joiner = new PartitionJoiner(settings);
      const requests = [callFragment('r1', 'e1', embeddings), callFragment('r2', 'e1', embeddings)];
      const enclosing = callFragment('e1', 'a1', embeddings);
      const agent = stepFragment('a1', '', StepKind.AGENT, 'indexer');
      const fragments =
        order === 'requests first'
          ? [...requests, enclosing, agent]
          : [enclosing, ...requests, agent];
      feed(joiner, fragments, 0);
      const due = joiner.due(1);
      expect(due.map(({ call }) => call.spanId).sort(), order).toEqual(['r1', 'r2']);
      expect(
        due.map(({ ancestors }) => ancestors.map((a) => a.spanId)),
        order,
      ).toEqual([
        ['e1', 'a1'],
        ['e1', 'a1'],
      ]);
      joiner.emitted(
        due.map(({ call }) => call),
        1,
      );
      expect(joiner.waitingCalls, order).toBe(0);
      expect(joiner.commitOffset(1 + settings.joinTimeoutMs), order).toBe(4n);
    }
  });

  it('keeps a chat call around an embeddings call, and an embeddings call around a chat', () => {
    const joiner = new PartitionJoiner(settings);
    const embeddings = { operation: Operation.EMBEDDINGS };
    feed(
      joiner,
      [
        callFragment('r1', 'c1', embeddings),
        callFragment('c1', 'e1'),
        callFragment('e1', '', embeddings),
      ],
      0,
    );
    expect(
      joiner
        .due(1)
        .map(({ call }) => call.spanId)
        .sort(),
    ).toEqual(['c1', 'e1', 'r1']);
  });

  it('lets a call go with the ancestors it has once its wait times out', () => {
    const joiner = new PartitionJoiner(settings);
    feed(
      joiner,
      [callFragment('c1', 'a1'), stepFragment('a1', 'remote', StepKind.AGENT, 'triage')],
      0,
    );
    expect(joiner.due(settings.joinTimeoutMs - 1)).toEqual([]);
    const [due] = joiner.due(settings.joinTimeoutMs);
    expect(due).toMatchObject({ reason: 'timeout', complete: false });
    expect(due?.ancestors.map((a) => a.spanId)).toEqual(['a1']);
  });

  it('joins content events that arrive before and after their span', () => {
    const joiner = new PartitionJoiner(settings);
    feed(joiner, [eventFragment('c1', false, 'hello')], 0);
    feed(joiner, [callFragment('c1', '', { awaitsEvents: true })], 1, 1n);
    expect(joiner.due(2)).toEqual([]);
    feed(joiner, [eventFragment('c1', true, 'hi there')], 3, 2n);
    const [due] = joiner.due(4);
    expect(due?.reason).toBe('complete');
    expect(texts(due?.events ?? [])).toEqual(['hello', 'hi there']);
  });

  it('waits for one output event per requested choice', () => {
    const joiner = new PartitionJoiner(settings);
    feed(
      joiner,
      [
        callFragment('c1', '', { awaitsEvents: true, choices: 2 }),
        eventFragment('c1', true, 'one', 0),
      ],
      0,
    );
    expect(joiner.due(1)).toEqual([]);
    feed(joiner, [eventFragment('c1', true, 'two', 1)], 2, 2n);
    expect(joiner.due(3)).toHaveLength(1);
  });

  it('lets a failed call go once its input events settle, without waiting for a choice', () => {
    const joiner = new PartitionJoiner(settings);
    feed(
      joiner,
      [
        callFragment('c1', '', { awaitsEvents: true, failed: true }),
        eventFragment('c1', false, 'hello'),
      ],
      0,
    );
    expect(joiner.due(settings.settleMs - 1)).toEqual([]);
    expect(joiner.due(settings.settleMs)[0]?.reason).toBe('complete');
  });

  it('emits a call whose events never come without them when its wait times out', () => {
    const joiner = new PartitionJoiner(settings);
    feed(joiner, [callFragment('c1', '', { awaitsEvents: true })], 0);
    const [due] = joiner.due(settings.joinTimeoutMs);
    expect(due).toMatchObject({ reason: 'timeout', events: [] });
  });

  it('takes a span exported twice once, before and after it was emitted', () => {
    const joiner = new PartitionJoiner(settings);
    feed(joiner, [callFragment('c1'), callFragment('c1')], 0);
    const due = joiner.due(0);
    expect(due).toHaveLength(1);
    joiner.emitted(
      due.map((pieces) => pieces.call),
      0,
    );
    feed(joiner, [callFragment('c1'), eventFragment('c1', true, 'late')], 1, 2n);
    expect(joiner.due(2)).toEqual([]);
    expect(joiner.waitingCalls).toBe(0);
  });

  it('does not join again a call whose emitted marker it replays', () => {
    const joiner = new PartitionJoiner(settings);
    feed(
      joiner,
      [
        callFragment('c1', 'a1'),
        stepFragment('a1', '', StepKind.AGENT, 'x'),
        emittedFragment('c1'),
      ],
      0,
    );
    expect(joiner.due(0)).toEqual([]);
    expect(joiner.waitingCalls).toBe(0);
    // Nor is a copy exported again after the marker.
    const replayed = new PartitionJoiner(settings);
    feed(replayed, [emittedFragment('c1'), callFragment('c1')], 0);
    expect(replayed.due(0)).toEqual([]);
  });

  it('keeps the offset of the first fragment still needed uncommitted', () => {
    const joiner = new PartitionJoiner(settings);
    feed(joiner, [callFragment('c1'), callFragment('c2', 'missing')], 0, 10n);
    expect(joiner.commitOffset(0)).toBe(10n);
    const first = joiner.due(0).filter((pieces) => pieces.call.spanId === 'c1');
    joiner.emitted(
      first.map((pieces) => pieces.call),
      0,
    );
    expect(joiner.commitOffset(0)).toBe(11n);
    const rest = joiner.due(settings.joinTimeoutMs);
    joiner.emitted(
      rest.map((pieces) => pieces.call),
      settings.joinTimeoutMs,
    );
    expect(joiner.commitOffset(settings.joinTimeoutMs)).toBe(12n);
  });

  it('holds emitted markers for the dedup window, and steps for the join timeout', () => {
    const joiner = new PartitionJoiner(settings);
    feed(joiner, [emittedFragment('c1'), stepFragment('s1', '', StepKind.AGENT)], 0, 5n);
    expect(joiner.commitOffset(settings.joinTimeoutMs)).toBe(5n);
    expect(joiner.commitOffset(settings.dedupWindowMs)).toBe(7n);
  });

  it('forgets orphan events after the join timeout', () => {
    const joiner = new PartitionJoiner(settings);
    feed(joiner, [eventFragment('c1', false, 'hello')], 0);
    expect(joiner.bytesHeld).toBe(100);
    expect(joiner.commitOffset(settings.joinTimeoutMs)).toBe(1n);
    expect(joiner.bytesHeld).toBe(0);
    feed(joiner, [callFragment('c1', '', { awaitsEvents: true })], settings.joinTimeoutMs, 1n);
    expect(joiner.due(2 * settings.joinTimeoutMs)[0]?.events).toEqual([]);
  });

  it('sheds the oldest waiting calls when it holds too much', () => {
    const joiner = new PartitionJoiner({ ...settings, maxHeldBytes: 250 });
    feed(
      joiner,
      [
        callFragment('c1', 'x'),
        callFragment('c2', 'x'),
        callFragment('c3', 'x'),
        callFragment('c4', 'x'),
      ],
      0,
    );
    const due = joiner.due(0);
    expect(due.map((pieces) => [pieces.call.spanId, pieces.reason])).toEqual([
      ['c1', 'shed'],
      ['c2', 'shed'],
    ]);
  });
});
