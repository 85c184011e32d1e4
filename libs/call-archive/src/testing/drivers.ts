import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { ConsumerOptions, DriverConsumer, MessagingDriver } from '@understudy/messaging';

/**
 * The broker, counting deliveries by partition; with `failCommits`, as seen by a process that
 * dies after uploading: its commits never arrive.
 */
export class TappedDriver implements MessagingDriver {
  readonly delivered = new Map<number, number>();
  failedCommits = 0;

  constructor(
    private readonly inner: MessagingDriver,
    private readonly failCommits = false,
  ) {}

  ensureTopics(...args: Parameters<MessagingDriver['ensureTopics']>): Promise<void> {
    return this.inner.ensureTopics(...args);
  }

  createProducer(): ReturnType<MessagingDriver['createProducer']> {
    return this.inner.createProducer();
  }

  createConsumer(options: ConsumerOptions): DriverConsumer {
    const consumer = this.inner.createConsumer({
      ...options,
      deliver: async (record) => {
        await options.deliver(record);
        this.delivered.set(record.partition, (this.delivered.get(record.partition) ?? 0) + 1);
      },
    });
    return {
      start: () => consumer.start(),
      stop: () => consumer.stop(),
      commit: (offsets) => {
        if (!this.failCommits) return consumer.commit(offsets);
        this.failedCommits += 1;
        return Promise.reject(new UnderstudyError(ErrorCode.Unavailable, 'crashed'));
      },
      get connected() {
        return consumer.connected;
      },
    };
  }
}
