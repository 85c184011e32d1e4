import type {
  CallCaptured,
  CallEmbedded,
  DatasetEvent,
  EventMeta,
  ModelVersionEvent,
  RouteEvent,
  TaskEvent,
  TrainingRunEvent,
} from '@understudy/contracts';
import { KafkaDriver, Messaging, topics } from '@understudy/messaging';
import { uniqueName, type KafkaEndpoint } from '@understudy/testbed';

/**
 * Every event one tenant's traffic causes on the platform's topics, in arrival order, read by a
 * consumer group of its own, as another service would read them.
 */
export class EventTap {
  readonly captured: CallCaptured[] = [];
  readonly embedded: CallEmbedded[] = [];
  readonly tasks: TaskEvent[] = [];
  readonly datasets: DatasetEvent[] = [];
  readonly trainingRuns: TrainingRunEvent[] = [];
  readonly modelVersions: ModelVersionEvent[] = [];
  readonly routes: RouteEvent[] = [];
  readonly #messaging: Messaging;

  private constructor(kafka: KafkaEndpoint, tenantId: string) {
    this.#messaging = new Messaging({
      driver: new KafkaDriver({ brokers: kafka.brokers, clientId: uniqueName('e2e-tap') }),
      producerName: 'e2e-tap',
    });
    const group = uniqueName('e2e-tap');
    const record =
      <E extends { meta?: EventMeta | undefined }>(into: E[]) =>
      (event: E) => {
        if (event.meta?.tenantId === tenantId) into.push(event);
      };
    this.#messaging
      .on(topics.callsCaptured, { group }, record(this.captured))
      .on(topics.callsEmbedded, { group }, record(this.embedded))
      .on(topics.tasks, { group }, record(this.tasks))
      .on(topics.datasets, { group }, record(this.datasets))
      .on(topics.trainingRuns, { group }, record(this.trainingRuns))
      .on(topics.modelVersions, { group }, record(this.modelVersions))
      .on(topics.routes, { group }, record(this.routes));
  }

  /**
   * Creates the topics where missing and joins the group; a new group reads from the earliest
   * record, so nothing published before is missed.
   */
  static async start(kafka: KafkaEndpoint, tenantId: string): Promise<EventTap> {
    const tap = new EventTap(kafka, tenantId);
    await tap.#messaging.start();
    return tap;
  }

  stop(): Promise<void> {
    return this.#messaging.stop();
  }
}
