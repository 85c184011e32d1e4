import { create } from '@bufbuild/protobuf';
import {
  RoutingTableChangeSchema,
  RoutingTableSchema,
  type RoutingTable,
  type RoutingTableChange,
  type WatchRoutingTableResponse,
} from '@understudy/contracts';
import { silentLogger } from '@understudy/telemetry';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChangesPage, RoutingRetention } from '../drivers/routing.js';
import { RevisionNotifier } from './revision-notifier.js';
import { RoutingFeed } from './routing-feed.js';
import { RoutingWatch, type RoutingReads } from './routing-watch.js';

/**
 * The routing table in memory, with the store's semantics: revisions without gaps, pruned
 * oldest first, the latest change always kept. Counts the reads.
 */
class MemoryRouting implements RoutingReads {
  changes: RoutingTableChange[] = [];
  reads = { all: 0, tenant: 0, snapshots: 0 };

  head(): Promise<bigint> {
    return Promise.resolve(this.changes.at(-1)?.revision ?? 0n);
  }

  commit(tenantId: string): bigint {
    const revision = (this.changes.at(-1)?.revision ?? 0n) + 1n;
    this.changes.push(create(RoutingTableChangeSchema, { revision, tenantId }));
    return revision;
  }

  changesAfter(revision: bigint, tenantId: string, limit: number) {
    if (tenantId === '') this.reads.all += 1;
    else this.reads.tenant += 1;
    const head = this.changes.at(-1)?.revision ?? 0n;
    const oldest = this.changes[0]?.revision ?? head + 1n;
    if (revision > head || revision < oldest - 1n) return Promise.resolve(undefined);
    const changes = this.changes
      .filter((c) => c.revision > revision && (tenantId === '' || c.tenantId === tenantId))
      .slice(0, limit);
    const through = changes.length === limit ? (changes.at(-1)?.revision ?? head) : head;
    return Promise.resolve<ChangesPage>({ changes, through });
  }

  snapshot(): Promise<RoutingTable> {
    this.reads.snapshots += 1;
    const revision = this.changes.at(-1)?.revision ?? 0n;
    return Promise.resolve(create(RoutingTableSchema, { revision }));
  }

  prune(retention: RoutingRetention): Promise<number> {
    const before = this.changes.length;
    this.changes = this.changes.slice(-Math.max(1, retention.revisions));
    return Promise.resolve(before - this.changes.length);
  }
}

const stopping: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const stop of stopping.splice(0)) await stop();
});

async function started(routing: MemoryRouting, ringSize = 1_024) {
  const notifier = new RevisionNotifier();
  const feed = new RoutingFeed(routing, notifier, { pollMs: 60_000, ringSize }, silentLogger);
  const watch = new RoutingWatch(routing, feed, { revisions: 100, hours: 1 }, silentLogger);
  await feed.start();
  const controller = new AbortController();
  stopping.push(async () => {
    controller.abort();
    await feed.stop();
  });
  return { notifier, feed, watch, signal: controller.signal };
}

type Seen = { snapshot: bigint } | { change: bigint; tenantId: string };

function seen(response: WatchRoutingTableResponse): Seen {
  const { kind } = response;
  if (kind.case === 'snapshot') return { snapshot: kind.value.revision };
  if (kind.case === 'change') return { change: kind.value.revision, tenantId: kind.value.tenantId };
  throw new Error('empty response');
}

/** The next `count` responses of a watch (fewer if it ends), leaving it open. */
async function take(stream: AsyncGenerator<WatchRoutingTableResponse>, count: number) {
  const out: Seen[] = [];
  while (out.length < count) {
    const next = await stream.next();
    if (next.done === true) break;
    out.push(seen(next.value));
  }
  return out;
}

describe('RoutingFeed and RoutingWatch', () => {
  it('reads a change once for all watchers, and each sees its own tenant only', async () => {
    const routing = new MemoryRouting();
    routing.commit('acme');
    const { notifier, watch, signal } = await started(routing);
    const serving = () => true;
    const acme = Array.from({ length: 100 }, () =>
      take(watch.watch({ tenantId: 'acme', fromRevision: 1n, signal, serving }), 1),
    );
    const everyone = take(watch.watch({ tenantId: '', fromRevision: 1n, signal, serving }), 2);
    const readsBefore = routing.reads.all;

    notifier.announce(routing.commit('globex'));
    notifier.announce(routing.commit('acme'));

    for (const watcher of await Promise.all(acme)) {
      expect(watcher).toEqual([{ change: 3n, tenantId: 'acme' }]);
    }
    expect(await everyone).toEqual([
      { change: 2n, tenantId: 'globex' },
      { change: 3n, tenantId: 'acme' },
    ]);
    // The feed read at most once per announcement; no watcher read the store.
    expect(routing.reads.all - readsBefore).toBeLessThanOrEqual(2);
    expect(routing.reads.tenant).toBe(0);
    expect(routing.reads.snapshots).toBe(0);
  });

  it('catches a watcher behind the ring up from the store, then serves it from the ring', async () => {
    const routing = new MemoryRouting();
    const { notifier, feed, watch, signal } = await started(routing, 3);
    for (let i = 0; i < 6; i += 1) routing.commit(i % 2 === 0 ? 'acme' : 'globex');
    notifier.announce(6n);
    await feed.readPast(5n, 5_000, signal);
    expect(feed.after(2n)).toBeUndefined(); // the ring holds revisions 4 to 6 only

    const stream = watch.watch({ tenantId: 'acme', fromRevision: 1n, signal, serving: () => true });
    const caughtUp = await take(stream, 2);
    expect(caughtUp).toEqual([
      { change: 3n, tenantId: 'acme' },
      { change: 5n, tenantId: 'acme' },
    ]);
    expect(routing.reads.tenant).toBe(1);

    notifier.announce(routing.commit('acme'));
    expect(await take(stream, 1)).toEqual([{ change: 7n, tenantId: 'acme' }]);
    expect(routing.reads.tenant).toBe(1);
    expect(routing.reads.snapshots).toBe(0);
  });

  it('sends a snapshot to a watcher resuming from a pruned or an unknown revision', async () => {
    const routing = new MemoryRouting();
    for (let i = 0; i < 5; i += 1) routing.commit('acme');
    const { watch, signal } = await started(routing, 2);
    expect(await watch.prune()).toBe(0); // 5 revisions are within the retention of 100
    await routing.prune({ revisions: 2, hours: 1 }); // holds 4 and 5

    const serving = () => true;
    const resumable = watch.watch({ tenantId: 'acme', fromRevision: 3n, signal, serving });
    const pruned = watch.watch({ tenantId: 'acme', fromRevision: 2n, signal, serving });
    const unknown = watch.watch({ tenantId: 'acme', fromRevision: 99n, signal, serving });

    expect(await take(resumable, 2)).toEqual([
      { change: 4n, tenantId: 'acme' },
      { change: 5n, tenantId: 'acme' },
    ]);
    expect(await take(pruned, 1)).toEqual([{ snapshot: 5n }]);
    expect(await take(unknown, 1)).toEqual([{ snapshot: 5n }]);
  });

  it('finds changes nobody announced at the next poll, and when the listener reconnects', async () => {
    const routing = new MemoryRouting();
    const notifier = new RevisionNotifier();
    const feed = new RoutingFeed(routing, notifier, { pollMs: 100 }, silentLogger);
    await feed.start();
    stopping.push(() => feed.stop());
    const signal = new AbortController().signal;

    routing.commit('acme');
    const polled = Date.now();
    await feed.readPast(0n, 5_000, signal);
    expect(feed.head).toBe(1n);
    expect(Date.now() - polled).toBeLessThan(2_000);

    await feed.stop();
    const slow = new RoutingFeed(routing, notifier, { pollMs: 60_000 }, silentLogger);
    await slow.start();
    stopping.push(() => slow.stop());
    routing.commit('acme');
    slow.listening();
    await slow.readPast(1n, 5_000, signal);
    expect(slow.head).toBe(2n);
  });

  it('ends watchers when the server stops serving', async () => {
    const routing = new MemoryRouting();
    const { watch, signal } = await started(routing);
    let serving = true;
    const stream = watch.watch({ tenantId: '', fromRevision: 0n, signal, serving: () => serving });
    expect(await take(stream, 1)).toEqual([{ snapshot: 0n }]);
    const ended = take(stream, 1);
    serving = false;
    expect(await ended).toEqual([]);
  });
});
