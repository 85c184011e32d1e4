/**
 * Online task discovery, one call at a time, within a group of calls that share a structural
 * signature (same agent, template, tools and output format).
 *
 * Why this algorithm: the signature already separates most tasks exactly, and Kafka delivers a
 * signature's calls in order to one consumer; inside a group, a prompt template can still serve
 * several jobs, told apart by their content. Leader clustering (nearest centroid by cosine; a
 * call farther than the threshold from every centroid starts a new cluster) needs no batch, no
 * k, costs one dot product per cluster, and is deterministic for a given order. A new cluster is
 * a candidate until it holds `minTaskSize` calls, so one-off and noisy calls never become
 * tasks. Merges, splits and re-clustering across signatures come later, over the same state.
 */

export type ClusterState = 'candidate' | 'active';
export type Announcement = 'discovered' | 'updated';

export interface Cluster {
  readonly id: string;
  readonly state: ClusterState;
  readonly callCount: number;
  /** Sum of the members' unit embeddings: the centroid's direction, updated in O(dimension). */
  readonly centroidSum: readonly number[] | undefined;
  /** Embedding model of the sum; '' when no member had an embedding. */
  readonly model: string;
  readonly revision: number;
  /** An event the clusterer owes its consumers, published after the state is committed. */
  readonly pending: Announcement | undefined;
}

export interface ClusteringPolicy {
  /** Least cosine similarity to a centroid for a call to join it. */
  readonly similarityThreshold: number;
  /** Calls a candidate needs to become a task. */
  readonly minTaskSize: number;
}

export interface CallVector {
  readonly values: readonly number[];
  readonly model: string;
}

export interface Placement {
  /** The cluster after the call joined it (new or existing). */
  readonly cluster: Cluster;
  readonly created: boolean;
  /** Cosine similarity to the centroid the call joined; 0 for calls without an embedding. */
  readonly similarity: number;
}

/** Places a call (its embedding, if any) in one of its signature group's clusters. */
export function place(
  clusters: readonly Cluster[],
  vector: CallVector | undefined,
  policy: ClusteringPolicy,
  newId: () => string,
): Placement {
  if (vector === undefined) {
    // Signature alone: the group's largest cluster is the likeliest task.
    const largest = [...clusters].sort(bySize)[0];
    if (largest !== undefined)
      return { cluster: grow(largest, undefined, policy), created: false, similarity: 0 };
    return { cluster: grow(empty(newId(), ''), undefined, policy), created: true, similarity: 0 };
  }
  const best = nearest(clusters, vector);
  if (best !== undefined && best.similarity >= policy.similarityThreshold) {
    return {
      cluster: grow(best.cluster, vector, policy),
      created: false,
      similarity: best.similarity,
    };
  }
  return {
    cluster: grow(empty(newId(), vector.model), vector, policy),
    created: true,
    similarity: 1,
  };
}

/** The cluster whose centroid is most similar to `vector`, among those of its model. */
export function nearest(
  clusters: readonly Cluster[],
  vector: CallVector,
): { cluster: Cluster; similarity: number } | undefined {
  let best: { cluster: Cluster; similarity: number } | undefined;
  for (const cluster of clusters) {
    if (cluster.centroidSum === undefined || cluster.model !== vector.model) continue;
    const similarity = cosine(cluster.centroidSum, vector.values);
    if (best === undefined || similarity > best.similarity) best = { cluster, similarity };
  }
  return best;
}

export interface Classification {
  readonly taskId: string;
  readonly confidence: number;
}

/**
 * The task a live call belongs to, among a signature group's active tasks: the nearest centroid
 * within the threshold, with the similarity as confidence; without an embedding, the largest
 * task, with its share of the group's calls as confidence.
 */
export function classify(
  tasks: readonly Cluster[],
  vector: CallVector | undefined,
  policy: ClusteringPolicy,
): Classification | undefined {
  const active = tasks.filter((task) => task.state === 'active');
  if (vector === undefined) {
    const largest = [...active].sort(bySize)[0];
    if (largest === undefined) return undefined;
    const total = active.reduce((sum, task) => sum + task.callCount, 0);
    return { taskId: largest.id, confidence: largest.callCount / total };
  }
  const best = nearest(active, vector);
  if (best === undefined || best.similarity < policy.similarityThreshold) return undefined;
  return { taskId: best.cluster.id, confidence: Math.max(0, Math.min(1, best.similarity)) };
}

/** The unit centroid of a sum of unit vectors. */
export function centroidOf(sum: readonly number[]): number[] {
  const norm = Math.sqrt(sum.reduce((total, value) => total + value * value, 0));
  return norm === 0 ? [...sum] : sum.map((value) => value / norm);
}

function grow(cluster: Cluster, vector: CallVector | undefined, policy: ClusteringPolicy): Cluster {
  const callCount = cluster.callCount + 1;
  const centroidSum =
    vector === undefined
      ? cluster.centroidSum
      : (cluster.centroidSum ?? vector.values.map(() => 0)).map(
          (value, i) => value + (vector.values[i] ?? 0),
        );
  const born = cluster.state === 'candidate' && callCount >= policy.minTaskSize;
  const grown = cluster.state === 'active' && isGrowthMilestone(callCount, policy.minTaskSize);
  const announcement: Announcement | undefined = born
    ? 'discovered'
    : grown
      ? 'updated'
      : undefined;
  return {
    ...cluster,
    state: born ? 'active' : cluster.state,
    callCount,
    centroidSum,
    model: cluster.model === '' && vector !== undefined ? vector.model : cluster.model,
    revision: cluster.revision + 1,
    // An unpublished discovery stays a discovery, whatever happens before it goes out.
    pending: cluster.pending ?? announcement,
  };
}

/** Updates go out when a task doubles: minTaskSize·2, ·4, ·8… calls. */
export function isGrowthMilestone(callCount: number, minTaskSize: number): boolean {
  const ratio = callCount / minTaskSize;
  return ratio >= 2 && Number.isInteger(ratio) && (ratio & (ratio - 1)) === 0;
}

function empty(id: string, model: string): Cluster {
  return {
    id,
    state: 'candidate',
    callCount: 0,
    centroidSum: undefined,
    model,
    revision: 0,
    pending: undefined,
  };
}

function bySize(a: Cluster, b: Cluster): number {
  const active = Number(b.state === 'active') - Number(a.state === 'active');
  return active !== 0 ? active : b.callCount - a.callCount || (a.id < b.id ? -1 : 1);
}

function cosine(sum: readonly number[], unit: readonly number[]): number {
  let dot = 0;
  let norm = 0;
  for (let i = 0; i < sum.length; i++) {
    const value = sum[i] ?? 0;
    dot += value * (unit[i] ?? 0);
    norm += value * value;
  }
  return norm === 0 ? 0 : dot / Math.sqrt(norm);
}
