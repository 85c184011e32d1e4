import { ErrorCode, UnderstudyError } from '@understudy/errors';

export interface BatcherOptions {
  /** Most items in one call of `run`. */
  readonly maxBatchSize: number;
  /** Calls of `run` in flight at once. */
  readonly concurrency: number;
  /** Called with the size of every batch started. */
  readonly onBatch?: (size: number) => void;
}

interface Waiting<I, O> {
  readonly item: I;
  resolve(output: O): void;
  reject(error: unknown): void;
}

/**
 * Gathers items submitted one by one into batches for a function that handles many at once (a
 * model runs a batch in about the time of a few single items). No timer: a batch starts as soon
 * as a slot is free, with whatever has queued since the last one started, so an idle service
 * answers at once and a busy one batches by itself. Items submitted in one tick share a batch.
 */
export class Batcher<I, O> {
  private readonly queue: Waiting<I, O>[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly run: (items: readonly I[]) => Promise<readonly O[]>,
    private readonly options: BatcherOptions,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.concurrency && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatchSize);
      this.inFlight += 1;
      this.options.onBatch?.(batch.length);
      void this.runBatch(batch).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  private async runBatch(batch: readonly Waiting<I, O>[]): Promise<void> {
    try {
      const outputs = await this.run(batch.map((waiting) => waiting.item));
      if (outputs.length !== batch.length) {
        throw new UnderstudyError(
          ErrorCode.Internal,
          `a batch of ${String(batch.length)} came back with ${String(outputs.length)} results`,
        );
      }
      batch.forEach((waiting, i) => {
        waiting.resolve(outputs[i] as O);
      });
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
    }
  }
}
