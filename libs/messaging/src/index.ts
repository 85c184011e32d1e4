export { catalog, eventTopic, topics, type EventTopicSettings } from './catalog.js';
export {
  ConsumerRunner,
  type ConsumerHealth,
  type ConsumerRunnerOptions,
  type HandlerOptions,
  type MessageContext,
  type MessageHandler,
} from './consumer-runner.js';
export type {
  CommitOffset,
  ConsumerOptions,
  Deliver,
  DriverConsumer,
  DriverProducer,
  IncomingRecord,
  MessagingDriver,
  OutgoingRecord,
  TopicPartition,
} from './driver.js';
export { Header, protobufContentType } from './headers.js';
export { InProcessDriver, type InProcessDriverOptions } from './in-process/in-process-driver.js';
export { KafkaDriver, type KafkaDriverOptions } from './kafka/kafka-driver.js';
export {
  Messaging,
  ensureTopics,
  type MessagingHealth,
  type MessagingOptions,
} from './messaging.js';
export { MessagingModule, type MessagingModuleAsyncOptions } from './nest/messaging.module.js';
export { OnMessage } from './nest/on-message.js';
export { Publisher, type PublisherOptions } from './publisher.js';
export { backoffDelay, defaultRetryPolicy, retryPolicy, type RetryPolicy } from './retry.js';
export {
  deadLetterName,
  defineTopic,
  topicConfigs,
  type CleanupPolicy,
  type Topic,
  type TopicConfig,
  type TopicKey,
  type TopicSpec,
} from './topic.js';
export { derivedUuid, eventMeta, type EventMetaInit } from './event-meta.js';
