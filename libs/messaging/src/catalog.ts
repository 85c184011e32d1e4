import { getOption, type DescMessage } from '@bufbuild/protobuf';
import {
  AuditEventSchema,
  CallCapturedSchema,
  CaptureFragmentSchema,
  CallEmbeddedSchema,
  DatasetEventSchema,
  kafka_topic,
  ModelVersionEventSchema,
  RouteEventSchema,
  TaskEventSchema,
  TrainingRunEventSchema,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { stringFieldReader } from './field-path.js';
import { defineTopic, type CleanupPolicy, type Topic } from './topic.js';

export interface EventTopicSettings {
  /** Why records are keyed as they are: what stays in order, how replicas share the work. */
  readonly keyPurpose: string;
  readonly partitions: number;
  readonly retentionMs: number;
  readonly cleanupPolicy?: CleanupPolicy;
}

/**
 * A topic for an Understudy event. Its name and key field come from the schema's
 * `(understudy.v1.kafka_topic)` option, the single source of truth in proto/; the event id
 * header comes from `meta.event_id`.
 */
export function eventTopic<Desc extends DescMessage>(
  schema: Desc,
  settings: EventTopicSettings,
): Topic<Desc> {
  const { name, keyField } = getOption(schema, kafka_topic);
  if (name === '' || keyField === '') {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      `${schema.typeName} declares no (understudy.v1.kafka_topic) name and key_field`,
    );
  }
  const keyOf = stringFieldReader(schema, keyField);
  const eventIdOf = stringFieldReader(schema, 'meta.event_id');
  return defineTopic({
    name,
    schema,
    key: {
      description: `${keyField}: ${settings.keyPurpose}`,
      of: (message) => {
        const key = keyOf(message);
        if (key === undefined || key === '') {
          throw new UnderstudyError(
            ErrorCode.InvalidArgument,
            `${schema.typeName} without ${keyField}, its record key, cannot be published`,
          );
        }
        return key;
      },
    },
    eventId: (message) => eventIdOf(message),
    partitions: settings.partitions,
    retentionMs: settings.retentionMs,
    ...(settings.cleanupPolicy && { cleanupPolicy: settings.cleanupPolicy }),
  });
}

const day = 24 * 60 * 60 * 1000;

/** Every Understudy event topic. Dead-letter topics are `<name>.dlq` (see `Topic.deadLetter`). */
export const topics = {
  callsCaptured: eventTopic(CallCapturedSchema, {
    keyPurpose: 'the same span exported twice lands on one partition, where it is deduplicated',
    partitions: 12,
    retentionMs: 7 * day,
  }),
  /** The collector's own changelog; retention covers its join timeout and dedup window. */
  captureFragments: eventTopic(CaptureFragmentSchema, {
    keyPurpose: 'every piece of a trace lands on one partition, whose owner joins its calls',
    partitions: 12,
    retentionMs: 1 * day,
  }),
  callsEmbedded: eventTopic(CallEmbeddedSchema, {
    keyPurpose: 'clusterer replicas share the work by structural signature, in order per signature',
    partitions: 12,
    retentionMs: 7 * day,
  }),
  tasks: eventTopic(TaskEventSchema, {
    keyPurpose: "a tenant's discoveries, merges, splits and retirements are seen in order",
    partitions: 6,
    retentionMs: 30 * day,
  }),
  datasets: eventTopic(DatasetEventSchema, {
    keyPurpose: "a task's datasets are seen in order",
    partitions: 6,
    retentionMs: 30 * day,
  }),
  trainingRuns: eventTopic(TrainingRunEventSchema, {
    keyPurpose: "a run's requests, progress and outcome are seen in order",
    partitions: 6,
    retentionMs: 30 * day,
  }),
  modelVersions: eventTopic(ModelVersionEventSchema, {
    keyPurpose: "a task's registrations, promotions and rollbacks are seen in order",
    partitions: 6,
    retentionMs: 30 * day,
  }),
  routes: eventTopic(RouteEventSchema, {
    // Each event holds all of a tenant's routes, so compaction keeps exactly the current table.
    keyPurpose: "a tenant's routing table revisions are seen in order; the latest one is kept",
    partitions: 6,
    retentionMs: -1,
    cleanupPolicy: 'compact',
  }),
  audit: eventTopic(AuditEventSchema, {
    keyPurpose: "a resource's history is seen in order",
    partitions: 6,
    retentionMs: 365 * day,
  }),
} as const;

/** The catalog as a list, for ensureTopics() and tools. */
export const catalog: readonly Topic[] = Object.values(topics);
