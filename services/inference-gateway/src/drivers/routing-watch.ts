import type { ModelRegistryService } from '@understudy/contracts';
import type { Client } from '@understudy/grpc';
import { silentLogger, type Logger } from '@understudy/telemetry';
import type { RoutingTableView } from '../domain/routing-table.js';

export type RoutingSource = Pick<Client<typeof ModelRegistryService>, 'watchRoutingTable'>;

export interface RoutingWatchOptions {
  /** First reconnection delay; doubles up to maxBackoffMs and resets once a message arrives. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly logger?: Logger;
}

/**
 * Keeps a {@link RoutingTableView} in step with the registry's WatchRoutingTable stream: a
 * snapshot first, then changes; when the stream breaks it reconnects with backoff, resuming from
 * the last revision applied. Until the first snapshot every call goes to the LLM.
 */
export class RoutingWatch {
  readonly #source: RoutingSource;
  readonly #view: RoutingTableView;
  readonly #logger: Logger;
  readonly #minBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #stop = new AbortController();
  #running: Promise<void> | undefined;
  #synced = false;
  #lastError: string | undefined;

  constructor(source: RoutingSource, view: RoutingTableView, options: RoutingWatchOptions = {}) {
    this.#source = source;
    this.#view = view;
    this.#logger = options.logger ?? silentLogger;
    this.#minBackoffMs = options.minBackoffMs ?? 200;
    this.#maxBackoffMs = options.maxBackoffMs ?? 10_000;
  }

  /** Whether a snapshot has been applied, and why the stream last broke. */
  get state(): { readonly synced: boolean; readonly lastError: string | undefined } {
    return { synced: this.#synced, lastError: this.#lastError };
  }

  start(): void {
    this.#running ??= this.#loop();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running;
  }

  async #loop(): Promise<void> {
    const signal = this.#stop.signal;
    let backoff = this.#minBackoffMs;
    while (!signal.aborted) {
      try {
        const stream = this.#source.watchRoutingTable(
          { fromRevision: this.#view.revision },
          { timeoutMs: Infinity, signal },
        );
        for await (const { kind } of stream) {
          backoff = this.#minBackoffMs;
          if (kind.case === 'snapshot') {
            this.#view.applySnapshot(kind.value);
            this.#synced = true;
            this.#logger.info({ revision: String(kind.value.revision) }, 'routing table loaded');
          } else if (kind.case === 'change' && this.#view.applyChange(kind.value)) {
            this.#logger.info(
              { revision: String(kind.value.revision), tenantId: kind.value.tenantId },
              'routes changed',
            );
          }
        }
        this.#lastError = 'the registry ended the stream';
      } catch (error) {
        if (this.#stop.signal.aborted) return;
        this.#lastError = error instanceof Error ? error.message : String(error);
      }
      this.#logger.warn(
        { err: this.#lastError, retryInMs: backoff },
        'routing table watch broke; reconnecting',
      );
      await sleep(backoff, signal);
      backoff = Math.min(backoff * 2, this.#maxBackoffMs);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
