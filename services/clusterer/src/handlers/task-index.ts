import { Inject, Injectable } from '@nestjs/common';
import { TaskIndex, type TaskMatch } from '../domain/discovery/online.js';
import type { SignatureFacts } from '../domain/discovery/structure.js';
import { TaskStore } from '../drivers/task-store.js';

export const INDEX_TTL_MS = Symbol('clusterer.IndexTtlMs');

interface Snapshot {
  readonly loadedAt: number;
  readonly generation: number;
  readonly model: string;
  readonly index: TaskIndex;
}

/**
 * Each tenant's task index in memory, so that assigning a recorded call and classifying a live
 * one cost no query. After `ttlMs` the tenant's generation is checked (one indexed read) and the
 * index reloaded only if a re-clustering ran, on this replica or another.
 */
@Injectable()
export class TaskIndexes {
  private readonly snapshots = new Map<string, Promise<Snapshot>>();

  constructor(
    @Inject(TaskStore) private readonly store: TaskStore,
    @Inject(INDEX_TTL_MS) private readonly ttlMs: number,
  ) {}

  /** The call's task by the last run, or undefined: unassigned until the next run. */
  async assign(
    tenantId: string,
    signature: SignatureFacts,
    vector: { readonly values: Float32Array; readonly model: string } | undefined,
  ): Promise<TaskMatch | undefined> {
    const { index, model } = await this.snapshot(tenantId);
    // A vector from another model than the centroids' is no evidence; the signature still is.
    const comparable =
      vector !== undefined && vector.model === model && vector.values.length === index.dimension;
    return index.assign(signature, comparable ? vector.values : undefined);
  }

  invalidate(tenantId: string): void {
    this.snapshots.delete(tenantId);
  }

  private async snapshot(tenantId: string): Promise<Snapshot> {
    const cached = this.snapshots.get(tenantId);
    if (cached !== undefined) {
      const snapshot = await cached;
      if (Date.now() - snapshot.loadedAt <= this.ttlMs) return snapshot;
      if ((await this.store.state(tenantId))?.generation === snapshot.generation) {
        const renewed = { ...snapshot, loadedAt: Date.now() };
        this.snapshots.set(tenantId, Promise.resolve(renewed));
        return renewed;
      }
    }
    const loading = this.load(tenantId);
    this.snapshots.set(tenantId, loading);
    // A failed load is not cached: the next call tries again.
    loading.catch(() => this.snapshots.delete(tenantId));
    return loading;
  }

  private async load(tenantId: string): Promise<Snapshot> {
    const state = await this.store.index(tenantId);
    return {
      loadedAt: Date.now(),
      generation: state.generation,
      model: state.embeddingModel,
      index: new TaskIndex(state.dimension, state.tasks, state.signatureTasks, state.placeTasks),
    };
  }
}
