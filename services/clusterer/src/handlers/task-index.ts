import { Inject, Injectable } from '@nestjs/common';
import type { Cluster } from '../domain/clustering.js';
import { TaskStore, toCluster } from '../drivers/task-store.js';

export const INDEX_TTL_MS = Symbol('clusterer.IndexTtlMs');

interface Snapshot {
  readonly loadedAt: number;
  readonly bySignature: ReadonlyMap<string, readonly Cluster[]>;
}

/**
 * A tenant's active tasks in memory, so ClassifyCall answers without a query per live call.
 * Reloaded after `ttlMs` (tasks found by other replicas show up within it) and at once after
 * this replica announces a change.
 */
@Injectable()
export class TaskIndex {
  private readonly snapshots = new Map<string, Promise<Snapshot>>();

  constructor(
    @Inject(TaskStore) private readonly store: TaskStore,
    @Inject(INDEX_TTL_MS) private readonly ttlMs: number,
  ) {}

  async tasks(tenantId: string, signature: string): Promise<readonly Cluster[]> {
    let snapshot = this.snapshots.get(tenantId);
    if (snapshot === undefined || Date.now() - (await snapshot).loadedAt > this.ttlMs) {
      snapshot = this.load(tenantId);
      this.snapshots.set(tenantId, snapshot);
      // A failed load is not cached: the next call tries again.
      snapshot.catch(() => this.snapshots.delete(tenantId));
    }
    return (await snapshot).bySignature.get(signature) ?? [];
  }

  invalidate(tenantId: string): void {
    this.snapshots.delete(tenantId);
  }

  private async load(tenantId: string): Promise<Snapshot> {
    const bySignature = new Map<string, Cluster[]>();
    for (const row of await this.store.activeTasks(tenantId)) {
      bySignature.set(row.signature, [...(bySignature.get(row.signature) ?? []), toCluster(row)]);
    }
    return { loadedAt: Date.now(), bySignature };
  }
}
