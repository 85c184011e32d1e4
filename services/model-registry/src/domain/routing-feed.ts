import { setTimeout as sleep } from 'node:timers/promises';
import type { RoutingTableChange } from '@understudy/contracts';
import type { Logger } from '@understudy/telemetry';
import type { ChangesPage } from '../drivers/routing.js';
import type { RoutingSignals } from '../drivers/routing-listener.js';
import { RevisionNotifier } from './revision-notifier.js';

/** Where the feed reads the routing table's changes (drivers/routing.ts RoutingStore). */
export interface ChangeSource {
  head(): Promise<bigint>;
  changesAfter(revision: bigint, tenantId: string, limit: number): Promise<ChangesPage | undefined>;
}

export interface FeedOptions {
  /** How often to read without being woken: covers notifications lost while reconnecting. */
  readonly pollMs: number;
  /** How many recent changes to keep for watchers; one further behind reads the database. */
  readonly ringSize?: number;
  /** Changes per query. */
  readonly batchSize?: number;
}

/**
 * The routing table's changes for every watcher in this process: each change is read once, by
 * one loop, into a ring of recent changes that watchers read in memory. 100 watchers cost one
 * query per change instead of 100. The loop reads when a revision is announced (a commit here,
 * or any replica's NOTIFY), when the listener (re)connects, and at least every `pollMs`.
 */
export class RoutingFeed implements RoutingSignals {
  readonly #source: ChangeSource;
  readonly #announced: RevisionNotifier;
  readonly #logger: Logger;
  readonly #pollMs: number;
  readonly #ringSize: number;
  readonly #batchSize: number;
  /** Changes with consecutive revisions, the last at #head. */
  readonly #ring: RoutingTableChange[] = [];
  /** The feed's own progress, for watchers to wait on. */
  readonly #read = new RevisionNotifier();
  readonly #stop = new AbortController();
  #wake = new AbortController();
  #head = 0n;
  #running: Promise<void> | undefined;

  constructor(
    source: ChangeSource,
    announced: RevisionNotifier,
    options: FeedOptions,
    logger: Logger,
  ) {
    this.#source = source;
    this.#announced = announced;
    this.#logger = logger;
    this.#pollMs = options.pollMs;
    this.#ringSize = options.ringSize ?? 1_024;
    this.#batchSize = options.batchSize ?? 500;
  }

  /** The revision of the last change read. */
  get head(): bigint {
    return this.#head;
  }

  /** Stopped: watchers end. */
  get closed(): boolean {
    return this.#stop.signal.aborted;
  }

  /** Starts reading at the table's current head. */
  async start(): Promise<void> {
    if (this.#running !== undefined) return;
    this.#head = await this.#source.head();
    this.#read.announce(this.#head);
    this.#running = this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running;
  }

  committed(revision: bigint): void {
    this.#announced.announce(revision);
  }

  listening(): void {
    this.#wake.abort();
  }

  /**
   * Every tenant's changes after `revision` ([] at the head), or undefined when the ring does
   * not hold them all: `revision` is older than the ring, or newer than what the feed has read.
   */
  after(revision: bigint): RoutingTableChange[] | undefined {
    const first = this.#head - BigInt(this.#ring.length) + 1n;
    if (revision > this.#head || revision < first - 1n) return undefined;
    return this.#ring.slice(Number(revision - first + 1n));
  }

  /**
   * Resolves once the feed has read past `revision`, after `timeoutMs`, when `signal` aborts
   * or when the feed stops, whichever comes first.
   */
  readPast(revision: bigint, timeoutMs: number, signal: AbortSignal): Promise<void> {
    return this.#read.changedAfter(
      revision,
      timeoutMs,
      AbortSignal.any([signal, this.#stop.signal]),
    );
  }

  async #run(): Promise<void> {
    const stopped = this.#stop.signal;
    while (!stopped.aborted) {
      const announced = this.#announced.latest;
      this.#wake = new AbortController();
      try {
        await this.#readAll();
      } catch (error) {
        this.#logger.warn({ err: error }, 'routing feed could not read changes; retrying');
        await sleep(Math.min(this.#pollMs, 1_000), undefined, { signal: stopped }).catch(
          () => undefined,
        );
        continue;
      }
      // An announcement the read did not reach wakes at once; the poll bounds the rest.
      const seen = announced > this.#head ? announced : this.#head;
      const wake = AbortSignal.any([stopped, this.#wake.signal]);
      await this.#announced.changedAfter(seen, this.#pollMs, wake);
    }
  }

  async #readAll(): Promise<void> {
    for (;;) {
      const page = await this.#source.changesAfter(this.#head, '', this.#batchSize);
      if (page === undefined) {
        // Pruned past this feed's head (it could not read for longer than the retention): start
        // again at the table's head; watchers behind it get snapshots.
        this.#ring.length = 0;
        this.#head = await this.#source.head();
        this.#read.announce(this.#head);
        this.#logger.warn({ revision: this.#head }, 'routing feed fell behind the retention');
        return;
      }
      const last = page.changes.at(-1);
      if (last === undefined) return;
      this.#ring.push(...page.changes);
      if (this.#ring.length > this.#ringSize) {
        this.#ring.splice(0, this.#ring.length - this.#ringSize);
      }
      this.#head = last.revision;
      this.#read.announce(this.#head);
      if (page.changes.length < this.#batchSize) return;
    }
  }
}
