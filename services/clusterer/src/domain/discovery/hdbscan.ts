/**
 * Exact HDBSCAN (Campello, Moulavi & Sander 2013; the variant of scikit-learn's `HDBSCAN` with
 * Euclidean distance, `cluster_selection_method='eom'`, no single cluster, no epsilon), so that
 * its labels can be checked against scikit-learn's on the same vectors.
 *
 * Cost: all pairwise distances are kept (4·n²/2 bytes) and the minimum spanning tree is Prim's
 * on the dense graph, O(n²·dimension) time. Callers bound n by sampling (see discovery.ts).
 */

export interface HdbscanOptions {
  /** Fewest points a cluster may hold. */
  readonly minClusterSize: number;
  /** Neighbours, the point itself included (as scikit-learn counts), that make a point core. */
  readonly minSamples: number;
}

/** Cluster labels 0…k−1 of the points, −1 for noise. */
export interface HdbscanResult {
  readonly labels: Int32Array;
  readonly clusterCount: number;
}

/** Clusters the `data.length / dimension` points stored row by row in `data`. */
export function hdbscan(
  data: Float32Array,
  dimension: number,
  options: HdbscanOptions,
): HdbscanResult {
  const n = Math.floor(data.length / dimension);
  if (n < 2) return { labels: new Int32Array(n).fill(-1), clusterCount: 0 };
  const distances = pairwiseDistances(data, n, dimension);
  const core = coreDistances(distances, n, options.minSamples);
  const edges = minimumSpanningTree(distances, core, n);
  const tree = condense(singleLinkage(edges, n), n, Math.max(2, options.minClusterSize));
  return selectClusters(tree, n);
}

/** Index of the pair (i, j), i ≠ j, in a condensed upper-triangle matrix. */
function pairIndex(i: number, j: number, n: number): number {
  const [a, b] = i < j ? [i, j] : [j, i];
  return a * n - (a * (a + 1)) / 2 + (b - a - 1);
}

function pairwiseDistances(data: Float32Array, n: number, dimension: number): Float32Array {
  const squares = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let k = i * dimension; k < (i + 1) * dimension; k++) sum += (data[k] as number) ** 2;
    squares[i] = sum;
  }
  const distances = new Float32Array((n * (n - 1)) / 2);
  let index = 0;
  for (let i = 0; i < n; i++) {
    const a = i * dimension;
    for (let j = i + 1; j < n; j++) {
      const b = j * dimension;
      let dot = 0;
      for (let k = 0; k < dimension; k++) dot += (data[a + k] as number) * (data[b + k] as number);
      const squared = (squares[i] as number) + (squares[j] as number) - 2 * dot;
      distances[index++] = squared > 0 ? Math.sqrt(squared) : 0;
    }
  }
  return distances;
}

/** Distance of each point to its `minSamples`-th nearest point, itself being the first. */
function coreDistances(distances: Float32Array, n: number, minSamples: number): Float64Array {
  const rank = Math.min(Math.max(minSamples, 1), n) - 1;
  const row = new Float64Array(n);
  const core = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) row[j] = i === j ? 0 : (distances[pairIndex(i, j, n)] as number);
    core[i] = select(row, rank);
  }
  return core;
}

/** The `rank`-th smallest value of `values` (reordered in place): Hoare's quickselect. */
function select(values: Float64Array, rank: number): number {
  let low = 0;
  let high = values.length - 1;
  while (low < high) {
    const pivot = values[(low + high) >>> 1] as number;
    let i = low;
    let j = high;
    while (i <= j) {
      while ((values[i] as number) < pivot) i++;
      while ((values[j] as number) > pivot) j--;
      if (i <= j) {
        const swap = values[i] as number;
        values[i++] = values[j] as number;
        values[j--] = swap;
      }
    }
    if (rank <= j) high = j;
    else if (rank >= i) low = i;
    else break;
  }
  return values[rank] as number;
}

interface Edges {
  readonly from: Int32Array;
  readonly to: Int32Array;
  readonly weight: Float64Array;
}

/** Prim's algorithm over mutual reachability, max(core(a), core(b), d(a, b)). */
function minimumSpanningTree(distances: Float32Array, core: Float64Array, n: number): Edges {
  const edges: Edges = {
    from: new Int32Array(n - 1),
    to: new Int32Array(n - 1),
    weight: new Float64Array(n - 1),
  };
  const best = new Float64Array(n).fill(Infinity);
  const source = new Int32Array(n);
  // Nodes not yet in the tree, kept dense by swap-removal.
  const outside = Int32Array.from({ length: n - 1 }, (_, i) => i + 1);
  let outsideCount = n - 1;
  let current = 0;
  for (let step = 0; step < n - 1; step++) {
    const currentCore = core[current] as number;
    let pick = -1;
    let pickWeight = Infinity;
    for (let k = 0; k < outsideCount; k++) {
      const j = outside[k] as number;
      const reach = Math.max(
        currentCore,
        core[j] as number,
        distances[pairIndex(current, j, n)] as number,
      );
      if (reach < (best[j] as number)) {
        best[j] = reach;
        source[j] = current;
      }
      const weight = best[j] as number;
      if (weight < pickWeight || (weight === pickWeight && j < (outside[pick] ?? n))) {
        pickWeight = weight;
        pick = k;
      }
    }
    const next = outside[pick] as number;
    outside[pick] = outside[--outsideCount] as number;
    edges.from[step] = source[next] as number;
    edges.to[step] = next;
    edges.weight[step] = pickWeight;
    current = next;
  }
  return edges;
}

/** A dendrogram in SciPy's layout: row i merges `left`/`right` into node n + i. */
interface Dendrogram {
  readonly left: Int32Array;
  readonly right: Int32Array;
  readonly height: Float64Array;
  readonly size: Int32Array;
}

function singleLinkage(edges: Edges, n: number): Dendrogram {
  const order = Array.from({ length: n - 1 }, (_, i) => i).sort(
    (a, b) => (edges.weight[a] as number) - (edges.weight[b] as number) || a - b,
  );
  const parent = Int32Array.from({ length: 2 * n - 1 }, (_, i) => i);
  const size = new Int32Array(2 * n - 1).fill(1);
  const find = (x: number): number => {
    let root = x;
    while (parent[root] !== root) root = parent[root] as number;
    while (parent[x] !== root) {
      const up = parent[x] as number;
      parent[x] = root;
      x = up;
    }
    return root;
  };
  const tree: Dendrogram = {
    left: new Int32Array(n - 1),
    right: new Int32Array(n - 1),
    height: new Float64Array(n - 1),
    size: new Int32Array(n - 1),
  };
  order.forEach((edge, row) => {
    const a = find(edges.from[edge] as number);
    const b = find(edges.to[edge] as number);
    const node = n + row;
    tree.left[row] = a;
    tree.right[row] = b;
    const merged = (size[a] as number) + (size[b] as number);
    tree.height[row] = edges.weight[edge] as number;
    tree.size[row] = merged;
    size[node] = merged;
    parent[a] = node;
    parent[b] = node;
  });
  return tree;
}

/**
 * The condensed tree: clusters (ids from n, the root being n) and, for each cluster, the
 * clusters and points that leave it and at which λ = 1/distance.
 */
interface CondensedTree {
  readonly parent: number[];
  readonly child: number[];
  readonly lambda: number[];
  readonly childSize: number[];
  /** Cluster ids run from n to clusterEnd − 1. */
  readonly clusterEnd: number;
}

function condense(tree: Dendrogram, n: number, minClusterSize: number): CondensedTree {
  const root = 2 * n - 2;
  const sizeOf = (node: number) => (node < n ? 1 : (tree.size[node - n] as number));
  const relabel = new Int32Array(2 * n - 1);
  relabel[root] = n;
  let nextLabel = n + 1;
  const result: CondensedTree & { clusterEnd: number } = {
    parent: [],
    child: [],
    lambda: [],
    childSize: [],
    clusterEnd: 0,
  };
  const emit = (parent: number, child: number, lambda: number, size: number) => {
    result.parent.push(parent);
    result.child.push(child);
    result.lambda.push(lambda);
    result.childSize.push(size);
  };
  /** Every point under `node` falls out of `cluster` at `lambda`. */
  const fallOut = (node: number, cluster: number, lambda: number) => {
    const stack = [node];
    while (stack.length > 0) {
      const top = stack.pop() as number;
      if (top < n) emit(cluster, top, lambda, 1);
      else stack.push(tree.left[top - n] as number, tree.right[top - n] as number);
    }
  };
  // Top-down from the root; a branch that falls out whole is never visited again.
  const queue = [root];
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head] as number;
    const row = node - n;
    const left = tree.left[row] as number;
    const right = tree.right[row] as number;
    const distance = tree.height[row] as number;
    const lambda = distance > 0 ? 1 / distance : Infinity;
    const cluster = relabel[node] as number;
    const leftSize = sizeOf(left);
    const rightSize = sizeOf(right);
    const keep = (child: number, label: number) => {
      relabel[child] = label;
      if (child >= n) queue.push(child);
    };
    if (leftSize >= minClusterSize && rightSize >= minClusterSize) {
      for (const [child, size] of [
        [left, leftSize],
        [right, rightSize],
      ] as const) {
        const label = nextLabel++;
        emit(cluster, label, lambda, size);
        keep(child, label);
      }
    } else if (leftSize < minClusterSize && rightSize < minClusterSize) {
      fallOut(left, cluster, lambda);
      fallOut(right, cluster, lambda);
    } else if (leftSize < minClusterSize) {
      fallOut(left, cluster, lambda);
      keep(right, cluster);
    } else {
      fallOut(right, cluster, lambda);
      keep(left, cluster);
    }
  }
  result.clusterEnd = nextLabel;
  return result;
}

/** Excess-of-mass selection of the most stable clusters, then the points' labels. */
function selectClusters(tree: CondensedTree, n: number): HdbscanResult {
  const clusters = tree.clusterEnd - n;
  const birth = new Float64Array(clusters);
  const stability = new Float64Array(clusters);
  const children: number[][] = Array.from({ length: clusters }, () => []);
  const parentOf = new Int32Array(clusters).fill(-1);
  const pointCluster = new Int32Array(n);
  for (let r = 0; r < tree.child.length; r++) {
    const child = tree.child[r] as number;
    const parent = (tree.parent[r] as number) - n;
    if ((tree.childSize[r] as number) > 1) {
      birth[child - n] = tree.lambda[r] as number;
      children[parent]?.push(child - n);
      parentOf[child - n] = parent;
    } else {
      pointCluster[child] = parent;
    }
  }
  for (let r = 0; r < tree.child.length; r++) {
    const parent = (tree.parent[r] as number) - n;
    stability[parent] =
      (stability[parent] as number) +
      ((tree.lambda[r] as number) - (birth[parent] as number)) * (tree.childSize[r] as number);
  }
  // Children have higher ids than their parents: walking ids downwards is bottom-up. The root
  // (0) is never a cluster.
  const selected = new Uint8Array(clusters);
  for (let c = clusters - 1; c >= 1; c--) {
    const own = children[c] ?? [];
    const subtree = own.reduce((sum, child) => sum + (stability[child] as number), 0);
    if (own.length > 0 && subtree > (stability[c] as number)) {
      stability[c] = subtree;
    } else {
      selected[c] = 1;
      const stack = [...own];
      while (stack.length > 0) {
        const below = stack.pop() as number;
        selected[below] = 0;
        stack.push(...(children[below] ?? []));
      }
    }
  }
  // A cluster's label is that of its nearest selected ancestor-or-self; parents come first.
  const owner = new Int32Array(clusters).fill(-1);
  const labelOf = new Int32Array(clusters).fill(-1);
  let clusterCount = 0;
  for (let c = 0; c < clusters; c++) {
    if (selected[c] === 1) labelOf[c] = clusterCount++;
  }
  for (let c = 1; c < clusters; c++) {
    owner[c] = selected[c] === 1 ? c : (owner[parentOf[c] as number] as number);
  }
  const labels = Int32Array.from(pointCluster, (cluster) => {
    const chosen = owner[cluster] as number;
    return chosen < 0 ? -1 : (labelOf[chosen] as number);
  });
  return { labels, clusterCount };
}
