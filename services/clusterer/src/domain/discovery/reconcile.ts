/**
 * Keeps task ids stable across batch re-clusterings. New clusters are matched to the previous
 * tasks by the calls they share, largest overlaps first: a cluster holding a good part of a
 * task's calls continues the task under its id, one task per cluster. The rest is a merge (most
 * of a task's calls went into a cluster that has an id), a split (a sizeable part of a task's
 * calls formed a cluster of its own, under a new id), a discovery, or a retirement: no call for
 * `retireAfterMs` (idle), or calls scattered (dissolved). These are the TaskEvent kinds
 * (TaskDiscovered, TaskUpdated, TaskMerged, TaskSplit, TaskRetired) the service publishes.
 */

export interface PreviousTask {
  readonly id: string;
  /** Ids of its calls within the new window, as the last batch and online assignment left them. */
  readonly members: readonly string[];
  /** Time of its latest call, whether or not still in the window. */
  readonly lastCallMs: number;
}

export interface NewCluster {
  readonly members: readonly string[];
  readonly lastCallMs: number;
}

export interface ReconcilePolicy {
  readonly nowMs: number;
  /** A task with no call for this long is retired. */
  readonly retireAfterMs: number;
  /** Least share of a task's calls in a cluster for the cluster to continue it. */
  readonly continueShare: number;
  /** Least share of a task's calls in a new cluster for that cluster to be a split of it. */
  readonly splitShare: number;
  /** Least share of a task's calls in a cluster continuing another task for a merge. */
  readonly mergeShare: number;
}

export const defaultReconcileShares = { continueShare: 0.3, splitShare: 0.2, mergeShare: 0.5 };

export type TaskChange =
  | { readonly kind: 'discovered'; readonly id: string; readonly cluster: number }
  | { readonly kind: 'continued'; readonly id: string; readonly cluster: number }
  | {
      readonly kind: 'merged';
      readonly id: string;
      readonly cluster: number;
      /** Every task merged into `id`, `id` first. */
      readonly sources: readonly string[];
    }
  | {
      readonly kind: 'split';
      readonly source: string;
      /** The clusters the source split into; one of them may keep the source's id. */
      readonly parts: readonly { readonly id: string; readonly cluster: number }[];
    }
  | { readonly kind: 'retired'; readonly id: string; readonly reason: 'idle' | 'dissolved' };

export interface Reconciliation {
  /** Each new cluster's task id; undefined for clusters idle already (never announced). */
  readonly ids: readonly (string | undefined)[];
  readonly changes: readonly TaskChange[];
}

export function reconcile(
  previous: readonly PreviousTask[],
  clusters: readonly NewCluster[],
  policy: ReconcilePolicy,
  newId: () => string,
): Reconciliation {
  const idleBefore = policy.nowMs - policy.retireAfterMs;
  const taskOfCall = new Map<string, number>();
  previous.forEach((task, t) => {
    for (const call of task.members) taskOfCall.set(call, t);
  });
  const live = clusters.map((cluster) => cluster.lastCallMs >= idleBefore);
  // overlaps[j]: previous task → calls it shares with cluster j.
  const overlaps = clusters.map((cluster) => {
    const counts = new Map<number, number>();
    for (const call of cluster.members) {
      const t = taskOfCall.get(call);
      if (t !== undefined) counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    return counts;
  });
  const sizeOf = (t: number) => (previous[t] as PreviousTask).members.length;

  const ids: (string | undefined)[] = clusters.map(() => undefined);
  const continues = new Map<number, number>(); // previous task → cluster
  const candidates = overlaps
    .flatMap((counts, j) => (live[j] ? [...counts].map(([t, shared]) => ({ t, j, shared })) : []))
    .sort((a, b) => b.shared - a.shared || a.t - b.t || a.j - b.j);
  for (const { t, j, shared } of candidates) {
    if (continues.has(t) || ids[j] !== undefined || shared < policy.continueShare * sizeOf(t))
      continue;
    continues.set(t, j);
    ids[j] = (previous[t] as PreviousTask).id;
  }

  // Unclaimed live clusters get new ids: a split of the task most of their calls came from, if
  // that is a sizeable part of it, or a discovery.
  const parts = new Map<number, { id: string; cluster: number }[]>(); // previous task → split parts
  const splitOff = new Set<number>();
  clusters.forEach((_, j) => {
    if (!live[j] || ids[j] !== undefined) return;
    const id = newId();
    ids[j] = id;
    const [parent, shared] = [...(overlaps[j] as Map<number, number>)].sort(
      (a, b) => b[1] - a[1] || a[0] - b[0],
    )[0] ?? [-1, 0];
    if (parent >= 0 && shared >= policy.splitShare * sizeOf(parent)) {
      parts.set(parent, [...(parts.get(parent) ?? []), { id, cluster: j }]);
      splitOff.add(j);
    }
  });

  // Previous tasks neither continued nor split: merged where most of their calls went, retired
  // otherwise.
  const mergedInto = new Map<number, string[]>(); // cluster → previous task ids merged into it
  const retired: TaskChange[] = [];
  previous.forEach((task, t) => {
    if (continues.has(t) || parts.has(t)) return;
    if (task.lastCallMs < idleBefore) {
      retired.push({ kind: 'retired', id: task.id, reason: 'idle' });
      return;
    }
    let destination = -1;
    let shared = 0;
    overlaps.forEach((counts, j) => {
      const here = counts.get(t) ?? 0;
      if (live[j] && here > shared) [destination, shared] = [j, here];
    });
    if (destination >= 0 && shared >= policy.mergeShare * sizeOf(t)) {
      mergedInto.set(destination, [...(mergedInto.get(destination) ?? []), task.id]);
    } else {
      retired.push({ kind: 'retired', id: task.id, reason: 'dissolved' });
    }
  });

  const continuedBy = new Map([...continues].map(([t, j]) => [j, t]));
  const changes: TaskChange[] = [];
  clusters.forEach((_, j) => {
    const id = ids[j];
    if (id === undefined) return;
    const kept = continuedBy.get(j);
    const merged = mergedInto.get(j) ?? [];
    if (merged.length > 0) {
      changes.push({
        kind: 'merged',
        id,
        cluster: j,
        sources: kept === undefined ? merged : [id, ...merged],
      });
    } else if (kept !== undefined) {
      // A part that keeps its source's id is announced with the split.
      if (!parts.has(kept)) changes.push({ kind: 'continued', id, cluster: j });
    } else if (!splitOff.has(j)) {
      changes.push({ kind: 'discovered', id, cluster: j });
    }
  });
  for (const [t, split] of parts) {
    const source = (previous[t] as PreviousTask).id;
    const kept = continues.get(t);
    changes.push({
      kind: 'split',
      source,
      parts: [...(kept === undefined ? [] : [{ id: source, cluster: kept }]), ...split],
    });
  }
  return { ids, changes: [...changes, ...retired] };
}
