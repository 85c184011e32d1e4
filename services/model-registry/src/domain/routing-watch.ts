import type {
  RoutingTable,
  RoutingTableChange,
  WatchRoutingTableResponse,
} from '@understudy/contracts';
import type { Logger } from '@understudy/telemetry';
import type { RoutingRetention } from '../drivers/routing.js';
import type { ChangeSource, RoutingFeed } from './routing-feed.js';

/** The routing table's reads and upkeep (drivers/routing.ts RoutingStore). */
export interface RoutingReads extends ChangeSource {
  snapshot(tenantId: string): Promise<RoutingTable>;
  prune(retention: RoutingRetention): Promise<number>;
}

export interface WatchOptions {
  readonly tenantId: string;
  readonly fromRevision: bigint;
  readonly signal: AbortSignal;
  /** Watchers end when this turns false (the server is shutting down). */
  readonly serving: () => boolean;
}

/** Changes per query for a watcher that reads the database (behind the feed's ring). */
const pageSize = 100;
/** How long a waiting watcher goes without looking at `serving()`. */
const checkMs = 1_000;
/** How often this process prunes the routing changes outside the retention. */
const pruneEveryMs = 10 * 60_000;

function snapshotResponse(snapshot: RoutingTable): WatchRoutingTableResponse {
  return {
    $typeName: 'understudy.v1.WatchRoutingTableResponse',
    kind: { case: 'snapshot', value: snapshot },
  };
}

function changeResponse(change: RoutingTableChange): WatchRoutingTableResponse {
  return {
    $typeName: 'understudy.v1.WatchRoutingTableResponse',
    kind: { case: 'change', value: change },
  };
}

/**
 * WatchRoutingTable: a snapshot unless the watcher can resume from its revision, then every
 * change in order. Watchers read the process's feed in memory; one that fell behind the feed's
 * ring catches up from the database, and one behind what the database retains gets a snapshot.
 * Runs the feed, and prunes the changes outside the retention, for as long as the service runs.
 */
export class RoutingWatch {
  readonly #reads: RoutingReads;
  readonly #feed: RoutingFeed;
  readonly #retention: RoutingRetention;
  readonly #logger: Logger;
  #pruning: NodeJS.Timeout | undefined;

  constructor(reads: RoutingReads, feed: RoutingFeed, retention: RoutingRetention, logger: Logger) {
    this.#reads = reads;
    this.#feed = feed;
    this.#retention = retention;
    this.#logger = logger;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.#feed.start();
    const prune = (): void => {
      this.prune().catch((error: unknown) => {
        this.#logger.warn({ err: error }, 'pruning routing changes failed; trying again later');
      });
    };
    prune();
    this.#pruning = setInterval(prune, pruneEveryMs).unref();
  }

  /** Before the database closes (onApplicationShutdown), so that the feed stops reading first. */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.#pruning);
    await this.#feed.stop();
  }

  /** Deletes the routing changes outside the retention; every replica may, at any time. */
  async prune(): Promise<number> {
    const deleted = await this.#reads.prune(this.#retention);
    if (deleted > 0) this.#logger.info({ deleted, ...this.#retention }, 'routing changes pruned');
    return deleted;
  }

  async *watch(options: WatchOptions): AsyncGenerator<WatchRoutingTableResponse> {
    const { tenantId, signal } = options;
    const mine = (change: RoutingTableChange) => tenantId === '' || change.tenantId === tenantId;
    let last = options.fromRevision;
    let resumable = last > 0n;
    while (!signal.aborted && options.serving() && !this.#feed.closed) {
      if (!resumable) {
        const snapshot = await this.#reads.snapshot(tenantId);
        last = snapshot.revision;
        resumable = true;
        yield snapshotResponse(snapshot);
        continue;
      }
      const recent = this.#feed.after(last);
      if (recent === undefined) {
        // Behind the ring, or ahead of this feed (a revision another replica served).
        const page = await this.#reads.changesAfter(last, tenantId, pageSize);
        if (page === undefined) {
          resumable = false; // no longer held, or never reached: start again from a snapshot
          continue;
        }
        for (const change of page.changes) yield changeResponse(change);
        last = page.through;
        // Nothing more in the database: wait for the feed to get there rather than ask again.
        if (page.changes.length === 0) await this.#feed.readPast(last - 1n, checkMs, signal);
        continue;
      }
      for (const change of recent) {
        if (mine(change)) yield changeResponse(change);
        last = change.revision;
      }
      if (recent.length === 0) await this.#feed.readPast(last, checkMs, signal);
    }
  }
}
