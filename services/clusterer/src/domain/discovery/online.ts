import { placeKey, structureKey, type SignatureFacts } from './structure.js';

/** A task as online assignment sees it: where it lives and how far it reaches. */
export interface IndexedTask {
  readonly id: string;
  readonly structure: string;
  /** Unit centroid; tasks known by signature alone have none. */
  readonly centroid: ArrayLike<number> | undefined;
  /** Least cosine similarity to the centroid for a call to join. */
  readonly threshold: number;
}

export interface TaskMatch {
  readonly taskId: string;
  /** How the call was matched: its signature does one job, its place does, or its content. */
  readonly by: 'signature' | 'place' | 'content';
  /** Cosine similarity to the task's centroid, for content matches. */
  readonly similarity?: number;
}

/**
 * Online assignment between two batch runs: each new call goes to a task or, unmatched, to the
 * unassigned pool that the next batch run re-examines. A signature the last batch found doing
 * one job decides alone (no vector needed); otherwise the call joins the nearest centroid among
 * the tasks of its structure if it is as close as the task's own members are. Immutable: the
 * next batch builds a new index, so an assignment never depends on the order calls arrived in.
 */
export class TaskIndex {
  private readonly byStructure = new Map<
    string,
    { ids: string[]; thresholds: Float64Array; centroids: Float32Array }
  >();
  private readonly structures = new Map<string, string>();

  constructor(
    readonly dimension: number,
    tasks: readonly IndexedTask[],
    private readonly signatureTasks: ReadonlyMap<string, string>,
    private readonly placeTasks: ReadonlyMap<string, string>,
  ) {
    const grouped = new Map<string, IndexedTask[]>();
    for (const task of tasks) {
      if (task.centroid === undefined) continue;
      grouped.set(task.structure, [...(grouped.get(task.structure) ?? []), task]);
    }
    for (const [structure, list] of grouped) {
      const centroids = new Float32Array(list.length * dimension);
      list.forEach((task, t) => {
        centroids.set(task.centroid as ArrayLike<number>, t * dimension);
      });
      this.byStructure.set(structure, {
        ids: list.map((task) => task.id),
        thresholds: Float64Array.from(list, (task) => task.threshold),
        centroids,
      });
    }
  }

  /** The task of a call with this signature and (unit) embedding, or undefined: unassigned. */
  assign(signature: SignatureFacts, vector: ArrayLike<number> | undefined): TaskMatch | undefined {
    const known = this.signatureTasks.get(signature.digest);
    if (known !== undefined) return { taskId: known, by: 'signature' };
    if (vector === undefined) {
      const sibling = this.placeTasks.get(placeKey(signature));
      return sibling === undefined ? undefined : { taskId: sibling, by: 'place' };
    }
    const candidates = this.byStructure.get(this.structureOf(signature));
    if (candidates === undefined) return undefined;
    const { ids, thresholds, centroids } = candidates;
    const dimension = this.dimension;
    let best = -1;
    let similarity = -Infinity;
    for (let t = 0; t < ids.length; t++) {
      let dot = 0;
      const base = t * dimension;
      for (let k = 0; k < dimension; k++)
        dot += (centroids[base + k] as number) * (vector[k] as number);
      if (dot > similarity) {
        similarity = dot;
        best = t;
      }
    }
    if (best < 0 || similarity < (thresholds[best] as number)) return undefined;
    return { taskId: ids[best] as string, by: 'content', similarity };
  }

  /** Structure keys by digest: a signature's key is fixed, and serialising it costs more than a lookup. */
  private structureOf(signature: SignatureFacts): string {
    let structure = this.structures.get(signature.digest);
    if (structure === undefined) {
      // Bounded: templates whose variables escape masking would otherwise grow it per call.
      if (this.structures.size >= 65_536) this.structures.clear();
      structure = structureKey(signature);
      this.structures.set(signature.digest, structure);
    }
    return structure;
  }
}
