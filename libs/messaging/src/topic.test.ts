import { StringValueSchema } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import { backoffDelay, defaultRetryPolicy, retryPolicy } from './retry.js';
import { defineTopic, topicConfigs } from './topic.js';

const spec = {
  name: 'understudy.things.v1',
  schema: StringValueSchema,
  key: { description: 'the value', of: (message: { value: string }) => message.value },
  partitions: 6,
  retentionMs: 1_000,
};

describe('defineTopic', () => {
  it('adds a dead-letter topic and defaults', () => {
    const topic = defineTopic(spec);
    expect(topic).toMatchObject({
      name: 'understudy.things.v1',
      cleanupPolicy: 'delete',
      partitions: 6,
    });
    expect(topic.deadLetter).toEqual({
      name: 'understudy.things.v1.dlq',
      partitions: 6,
      retentionMs: 30 * 24 * 60 * 60 * 1000,
      cleanupPolicy: 'delete',
    });
    expect(Object.isFrozen(topic)).toBe(true);
  });

  it('names every problem of an invalid spec', () => {
    expect(() => defineTopic({ ...spec, name: 'bad name', partitions: 0, retentionMs: 0 })).toThrow(
      /not a legal Kafka topic name.*partitions must be a positive integer.*retentionMs must be -1/,
    );
  });

  it('lists topics before their dead-letter topics', () => {
    const a = defineTopic(spec);
    const b = defineTopic({
      ...spec,
      name: 'understudy.others.v1',
      cleanupPolicy: 'compact',
      retentionMs: -1,
    });
    expect(
      topicConfigs([a, b]).map(({ name, cleanupPolicy }) => `${name}/${cleanupPolicy}`),
    ).toEqual([
      'understudy.things.v1/delete',
      'understudy.others.v1/compact',
      'understudy.things.v1.dlq/delete',
      'understudy.others.v1.dlq/delete',
    ]);
  });
});

describe('retry policy', () => {
  it('doubles the pause up to the cap', () => {
    const policy = retryPolicy({ baseDelayMs: 100, maxDelayMs: 500 });
    expect([1, 2, 3, 4, 5].map((attempt) => backoffDelay(policy, attempt))).toEqual([
      100, 200, 400, 500, 500,
    ]);
    expect(policy.attempts).toBe(defaultRetryPolicy.attempts);
  });

  it('rejects policies that cannot work', () => {
    expect(() => retryPolicy({ attempts: 0, maxDelayMs: 1 })).toThrow(
      /attempts must be >= 1; maxDelayMs/,
    );
  });
});
