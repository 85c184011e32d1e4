import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import { ErrorCode, UnderstudyError } from '@understudy/errors';

export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete';

/** What the broker needs to create a topic; event topics and their dead-letter topics share it. */
export interface TopicConfig {
  readonly name: string;
  readonly partitions: number;
  /** How long records are kept; -1 keeps them forever. */
  readonly retentionMs: number;
  readonly cleanupPolicy: CleanupPolicy;
}

/**
 * The record key of a topic. Records with the same key land in the same partition, so the key
 * decides what stays in order and how consumer replicas share the work.
 */
export interface TopicKey<Desc extends DescMessage> {
  readonly description: string;
  // Method syntax keeps Topic<Specific> assignable to Topic<DescMessage> (bivariant parameter).
  of(message: MessageShape<Desc>): string;
}

/** A topic whose values are protobuf messages of one schema, with its dead-letter topic. */
export interface Topic<Desc extends DescMessage = DescMessage> extends TopicConfig {
  readonly schema: Desc;
  readonly key: TopicKey<Desc>;
  /** The event id sent in headers; a random UUID is used where this is absent or returns nothing. */
  eventId?(message: MessageShape<Desc>): string | undefined;
  readonly deadLetter: TopicConfig;
}

export interface TopicSpec<Desc extends DescMessage> {
  readonly name: string;
  readonly schema: Desc;
  readonly key: TopicKey<Desc>;
  eventId?(message: MessageShape<Desc>): string | undefined;
  readonly partitions: number;
  readonly retentionMs: number;
  /** `delete` unless given. */
  readonly cleanupPolicy?: CleanupPolicy;
  /** Dead letters wait for a person, so they are kept longer: 30 days unless given. */
  readonly deadLetterRetentionMs?: number;
}

const day = 24 * 60 * 60 * 1000;
const legalName = /^[a-zA-Z0-9._-]{1,245}$/;

export function deadLetterName(topic: string): string {
  return `${topic}.dlq`;
}

/** Declares a topic once; the catalog, producers and consumers all use the returned object. */
export function defineTopic<Desc extends DescMessage>(spec: TopicSpec<Desc>): Topic<Desc> {
  const problems = [
    legalName.test(spec.name) ? undefined : `name "${spec.name}" is not a legal Kafka topic name`,
    Number.isInteger(spec.partitions) && spec.partitions > 0
      ? undefined
      : `partitions must be a positive integer, got ${spec.partitions}`,
    spec.retentionMs === -1 || (Number.isInteger(spec.retentionMs) && spec.retentionMs > 0)
      ? undefined
      : `retentionMs must be -1 or a positive integer, got ${spec.retentionMs}`,
  ].filter((problem) => problem !== undefined);
  if (problems.length > 0) {
    throw new UnderstudyError(ErrorCode.InvalidArgument, `invalid topic: ${problems.join('; ')}`, {
      details: { topic: spec.name },
    });
  }
  const { deadLetterRetentionMs, cleanupPolicy, ...rest } = spec;
  return Object.freeze({
    ...rest,
    cleanupPolicy: cleanupPolicy ?? 'delete',
    deadLetter: Object.freeze({
      name: deadLetterName(spec.name),
      partitions: spec.partitions,
      retentionMs: deadLetterRetentionMs ?? 30 * day,
      cleanupPolicy: 'delete' as const,
    }),
  });
}

/** Every topic of a catalog followed by the dead-letter topics, as the broker must hold them. */
export function topicConfigs(catalog: readonly Topic[]): TopicConfig[] {
  return [...catalog, ...catalog.map((topic) => topic.deadLetter)].map(
    ({ name, partitions, retentionMs, cleanupPolicy }) => ({
      name,
      partitions,
      retentionMs,
      cleanupPolicy,
    }),
  );
}
