import { densityClusters, mergeFragments, poolClusters, type Fragment } from './fragments.js';
import { momentsOf } from './moments.js';
import { nearest, reach } from './similarity.js';
import { isOpenEnded, placeKey, structureKey, type SignatureFacts } from './structure.js';
import { dotRow, unit } from './vectors.js';

/**
 * Batch task discovery over a window of one tenant's calls, in two levels:
 *
 * 1. Structure. Calls are grouped by signature. A group is one fragment of a task, except where
 *    one template may serve several jobs (`isOpenEnded`): there HDBSCAN splits it by content.
 *    Groups too small to judge alone are pooled by structure.
 * 2. Content, across groups. Fragments of one structure merge when their embedding
 *    distributions match (`overlap`), so paraphrased templates, per-brand prompts and two teams'
 *    prompts for one job become one task. Loose calls (density noise, small groups) join the
 *    nearest task of their structure if they are as close as its members are; what is left of
 *    the small groups is density-clustered per structure; the rest stays unassigned.
 *
 * Only step 1's density clustering is quadratic, and it sees at most `sampleSize` calls per
 * group (the others are assigned to the nearest cluster found); everything else is linear in
 * the calls or works on per-fragment sums, so a million calls cluster in seconds, not hours.
 */

/** A window of calls, column by column. */
export interface CallTable {
  readonly dimension: number;
  /** Call i's unit embedding at row i; zeros where it has none. */
  readonly vectors: Float32Array;
  /** 1 where the call has an embedding. */
  readonly hasVector: Uint8Array;
  /** Call i's signature, as an index into `signatures`. */
  readonly signatureOf: Int32Array;
  readonly signatures: readonly SignatureFacts[];
}

export interface DiscoveryPolicy {
  /** Fewest calls a task holds; smaller clusters stay unassigned. */
  readonly minTaskSize: number;
  /** HDBSCAN's least cluster size; also the least calls for a group to stand on its own. */
  readonly minClusterSize: number;
  /**
   * Least share of the calls one density clustering sees for a cluster: a job must carry this
   * much of a generic prompt's traffic, or every clump of repeated small talk becomes a task.
   */
  readonly minClusterShare: number;
  /** HDBSCAN's neighbourhood for core distances. */
  readonly minSamples: number;
  /** Most calls one density clustering sees; larger groups are sampled evenly. */
  readonly sampleSize: number;
  /** Least `overlap` of two fragments of one structure for them to be one task. */
  readonly mergeOverlap: number;
  /**
   * How far a task reaches, from its members' similarities to its centroid: down to this
   * quantile of them, less `acceptSlack` times that quantile's distance below their median, so
   * that a diffuse task reaches further than a tight one.
   */
  readonly acceptQuantile: number;
  readonly acceptSlack: number;
  /** Which groups content may split: open-ended ones (the design), or all or none (ablations). */
  readonly split: 'open-ended' | 'all' | 'none';
}

export const defaultDiscoveryPolicy: DiscoveryPolicy = {
  minTaskSize: 5,
  minClusterSize: 15,
  minClusterShare: 0.02,
  minSamples: 5,
  sampleSize: 3000,
  mergeOverlap: 0.85,
  acceptQuantile: 0.02,
  acceptSlack: 0.5,
  split: 'open-ended',
};

export interface DiscoveredTask {
  /** Indices of the member calls, ascending. */
  readonly members: Int32Array;
  readonly structure: string;
  /** Unit mean of the members' embeddings; undefined when no member has one. */
  readonly centroid: Float64Array | undefined;
  /** Least cosine similarity to the centroid for a new call to join. */
  readonly threshold: number;
  /** The members' signature digests, most calls first. */
  readonly signatures: readonly { readonly digest: string; readonly calls: number }[];
}

export interface Discovery {
  readonly tasks: readonly DiscoveredTask[];
  /** Each call's index in `tasks`, or −1 (unassigned). */
  readonly assignment: Int32Array;
  /** Signatures whose calls all belong to one task: new calls with them go there directly. */
  readonly signatureTasks: ReadonlyMap<string, number>;
  /** The same by place (agent, step, output format), for calls that arrive without content. */
  readonly placeTasks: ReadonlyMap<string, number>;
}

export function discoverTasks(
  table: CallTable,
  policy: DiscoveryPolicy = defaultDiscoveryPolicy,
): Discovery {
  const { hasVector, signatures } = table;
  const groups: number[][] = signatures.map(() => []);
  table.signatureOf.forEach((signature, call) => groups[signature]?.push(call));
  const splits = (signature: SignatureFacts) =>
    policy.split === 'all' || (policy.split === 'open-ended' && isOpenEnded(signature));

  // Level 1: fragments from signature groups.
  const fragments: Fragment[] = [];
  const loose: number[] = [];
  const pools = new Map<string, number[]>();
  groups.forEach((members, g) => {
    const signature = signatures[g] as SignatureFacts;
    const structure = structureKey(signature);
    const withVectors = members.filter((call) => hasVector[call] === 1);
    if (withVectors.length === 0) return;
    if (withVectors.length < policy.minClusterSize) {
      const pool = pools.get(structure) ?? [];
      for (const call of withVectors) pool.push(call);
      pools.set(structure, pool);
      return;
    }
    if (!splits(signature)) {
      fragments.push({ structure, members: withVectors });
      return;
    }
    const { clusters, noise } = densityClusters(table, withVectors, policy);
    // No structure in the content: the template is the only evidence, and it says one task.
    if (clusters.length === 0) fragments.push({ structure, members: withVectors });
    for (const cluster of clusters) fragments.push({ structure, members: cluster });
    for (const call of noise) loose.push(call);
  });

  // Level 2: fragments of one structure whose content matches are one task.
  const merged = mergeFragments(fragments, table, policy.mergeOverlap);
  const assignment = new Int32Array(table.signatureOf.length).fill(-1);
  merged.forEach((fragment, task) => {
    for (const call of fragment.members) assignment[call] = task;
  });
  const taskStructures = merged.map((fragment) => fragment.structure);
  let shapes = taskShapes(table, assignment, taskStructures.length, policy);
  const stillLoose = absorb(
    table,
    loose.concat(...pools.values()),
    assignment,
    taskStructures,
    shapes,
  );

  // What small groups left over may still be a task whose template never repeats (context
  // pasted into the system prompt makes every call its own signature).
  const leftover = new Set(stillLoose);
  const pooledTasks: number[] = [];
  for (const [structure, pool] of pools) {
    const rest = pool.filter((call) => leftover.has(call));
    if (rest.length < 2 * policy.minClusterSize) continue;
    for (const cluster of poolClusters(table, rest, assignment, policy)) {
      if (cluster.length < policy.minTaskSize) continue;
      pooledTasks.push(taskStructures.push(structure) - 1);
      for (const call of cluster) assignment[call] = pooledTasks.at(-1) as number;
    }
  }
  if (pooledTasks.length > 0) {
    // Stragglers of the new tasks, as loose calls join any task.
    shapes = taskShapes(table, assignment, taskStructures.length, policy);
    absorb(
      table,
      stillLoose.filter((call) => assignment[call] === -1),
      assignment,
      taskStructures,
      shapes,
    );
  }

  // A signature that does one job takes its calls along, with or without content.
  const signatureTasks = new Map<string, number>();
  groups.forEach((members, g) => {
    const signature = signatures[g] as SignatureFacts;
    if (splits(signature)) return;
    const task = majority(
      members.filter((call) => hasVector[call] === 1).map((call) => assignment[call] as number),
    );
    if (task === undefined) return;
    signatureTasks.set(signature.digest, task);
    for (const call of members) assignment[call] = task;
  });
  const placeTasks = byPlace(groups, signatures, signatureTasks);
  groups.forEach((members, g) => {
    const signature = signatures[g] as SignatureFacts;
    if (members.length === 0 || members.some((call) => hasVector[call] === 1)) return;
    let task = placeTasks.get(placeKey(signature));
    if (task === undefined && members.length >= policy.minTaskSize && !splits(signature)) {
      // Calls without content that no sibling explains: a task by signature alone.
      task = taskStructures.push(structureKey(signature)) - 1;
    }
    if (task === undefined) return;
    signatureTasks.set(signature.digest, task);
    for (const call of members) assignment[call] = task;
  });

  const sizes = new Int32Array(taskStructures.length);
  for (const task of assignment) if (task >= 0) sizes[task] = (sizes[task] as number) + 1;
  // Renumber, dropping tasks too small to keep.
  const renumber = Int32Array.from(sizes, () => -1);
  let kept = 0;
  sizes.forEach((size, task) => {
    if (size >= policy.minTaskSize) renumber[task] = kept++;
  });
  for (let call = 0; call < assignment.length; call++) {
    const task = assignment[call] as number;
    if (task >= 0) assignment[call] = renumber[task] as number;
  }
  shapes = taskShapes(table, assignment, kept, policy);
  const remap = (map: Map<string, number>) =>
    new Map(
      [...map].flatMap(([key, task]) =>
        (renumber[task] ?? -1) >= 0 ? [[key, renumber[task] as number] as const] : [],
      ),
    );
  const tasks = buildTasks(
    table,
    assignment,
    shapes,
    taskStructures.filter((_, task) => (renumber[task] as number) >= 0),
  );
  return {
    tasks,
    assignment,
    signatureTasks: remap(signatureTasks),
    placeTasks: remap(placeTasks),
  };
}

interface Shape {
  readonly centroid: Float64Array | undefined;
  readonly threshold: number;
}

/** Each task's unit centroid and acceptance threshold, from its members with embeddings. */
function taskShapes(
  table: CallTable,
  assignment: Int32Array,
  taskCount: number,
  policy: DiscoveryPolicy,
): Shape[] {
  const { dimension, vectors, hasVector } = table;
  const members: number[][] = Array.from({ length: taskCount }, () => []);
  assignment.forEach((task, call) => {
    if (task >= 0 && hasVector[call] === 1) members[task]?.push(call);
  });
  return members.map((calls) => {
    if (calls.length === 0) return { centroid: undefined, threshold: Infinity };
    const centroid = unit(momentsOf(vectors, calls, dimension).sum);
    const similarities = calls.map((call) => dotRow(vectors, call, centroid, 0, dimension));
    return { centroid, threshold: reach(similarities, policy) };
  });
}

/** Assigns each of `calls` to the nearest task of its structure that accepts it; returns the rest. */
function absorb(
  table: CallTable,
  calls: readonly number[],
  assignment: Int32Array,
  structures: readonly string[],
  shapes: readonly Shape[],
): number[] {
  const { dimension, vectors, signatures, signatureOf } = table;
  const byStructure = new Map<string, number[]>();
  structures.forEach((structure, task) => {
    if (shapes[task]?.centroid === undefined) return;
    byStructure.set(structure, [...(byStructure.get(structure) ?? []), task]);
  });
  const rest: number[] = [];
  for (const call of calls) {
    const structure = structureKey(signatures[signatureOf[call] as number] as SignatureFacts);
    const candidates = byStructure.get(structure) ?? [];
    const best = nearest(
      vectors,
      call,
      candidates.map((task) => shapes[task]?.centroid as Float64Array),
      dimension,
    );
    const task = candidates[best.index];
    if (task !== undefined && best.similarity >= (shapes[task]?.threshold ?? Infinity))
      assignment[call] = task;
    else rest.push(call);
  }
  return rest;
}

/** The task most of `tasks` name (−1 is no task), if it holds at least half of them. */
function majority(tasks: readonly number[]): number | undefined {
  const counts = new Map<number, number>();
  for (const task of tasks) if (task >= 0) counts.set(task, (counts.get(task) ?? 0) + 1);
  const [task, count] = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0] ?? [-1, 0];
  return task >= 0 && 2 * count >= tasks.length ? task : undefined;
}

/** For each place, the task of the place's signatures that holds the most calls. */
function byPlace(
  groups: readonly number[][],
  signatures: readonly SignatureFacts[],
  signatureTasks: ReadonlyMap<string, number>,
): Map<string, number> {
  const votes = new Map<string, Map<number, number>>();
  groups.forEach((members, g) => {
    const signature = signatures[g] as SignatureFacts;
    const task = signatureTasks.get(signature.digest);
    if (task === undefined) return;
    const key = placeKey(signature);
    const tally = votes.get(key) ?? new Map<number, number>();
    tally.set(task, (tally.get(task) ?? 0) + members.length);
    votes.set(key, tally);
  });
  return new Map(
    [...votes].map(([key, tally]) => [
      key,
      ([...tally].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0] as [number, number])[0],
    ]),
  );
}

function buildTasks(
  table: CallTable,
  assignment: Int32Array,
  shapes: readonly Shape[],
  structures: readonly string[],
): DiscoveredTask[] {
  const members: number[][] = shapes.map(() => []);
  assignment.forEach((task, call) => {
    if (task >= 0) members[task]?.push(call);
  });
  return members.map((calls, task) => {
    const digests = new Map<string, number>();
    for (const call of calls) {
      const digest = (table.signatures[table.signatureOf[call] as number] as SignatureFacts).digest;
      digests.set(digest, (digests.get(digest) ?? 0) + 1);
    }
    const shape = shapes[task] as Shape;
    return {
      members: Int32Array.from(calls),
      structure: structures[task] as string,
      centroid: shape.centroid,
      threshold: shape.threshold,
      signatures: [...digests]
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
        .map(([digest, count]) => ({ digest, calls: count })),
    };
  });
}
