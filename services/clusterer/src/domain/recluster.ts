import { discoverTasks, type CallTable, type DiscoveryPolicy } from './discovery/discovery.js';
import { callsPerDay, distinctiveTerms, representatives, taskLabel } from './discovery/labels.js';
import { reconcile, type ReconcilePolicy, type TaskChange } from './discovery/reconcile.js';
import { isJsonDemanded, type SignatureFacts } from './discovery/structure.js';
import { dotRow } from './discovery/vectors.js';
import type { PriceTable } from './prices.js';
import { profileTask, tenantCost, type TaskAssessment, type TaskCall } from './suitability.js';

/**
 * One re-clustering of a tenant's window: batch discovery, then task ids carried over from the
 * previous run by membership overlap, then each task's label, representatives and assessment.
 * Pure: the service loads the window and writes the result in one transaction.
 */

export interface WindowCall extends TaskCall {
  readonly callId: string;
  /** The task the call has now (last run or online assignment); null while unassigned. */
  readonly taskId: string | null;
  readonly terms: readonly string[];
}

export interface CallWindow {
  readonly startMs: number;
  readonly endMs: number;
  /** Row i of the table is calls[i]. */
  readonly table: CallTable;
  readonly calls: readonly WindowCall[];
}

/** A task of the previous run, still active. */
export interface KnownTask {
  readonly id: string;
  readonly lastSeenMs: number;
}

export interface ReclusterOptions {
  readonly discovery: DiscoveryPolicy;
  readonly reconcile: Omit<ReconcilePolicy, 'nowMs'>;
  readonly prices: PriceTable;
  /** Calls per task whose terms label it; a sample is enough for frequencies. */
  readonly labelSample: number;
  readonly representatives: number;
}

export interface FoundTask {
  readonly id: string;
  /** Indices into the window's calls, ascending. */
  readonly members: Int32Array;
  readonly signature: SignatureFacts;
  /** Member signature digests, most calls first. */
  readonly signatures: readonly string[];
  readonly structure: string;
  readonly label: string;
  readonly keywords: readonly string[];
  readonly centroid: Float64Array | undefined;
  readonly threshold: number;
  readonly representativeCallIds: readonly string[];
  readonly callsPerDay: number;
  readonly firstSeenMs: number;
  readonly lastSeenMs: number;
  readonly assessment: TaskAssessment;
}

export interface Reclustering {
  readonly tasks: readonly FoundTask[];
  readonly changes: readonly TaskChange[];
  /** Each call's task id after the run; null: unassigned. */
  readonly assignment: readonly (string | null)[];
  readonly signatureTasks: ReadonlyMap<string, string>;
  readonly placeTasks: ReadonlyMap<string, string>;
}

export function recluster(
  window: CallWindow,
  known: readonly KnownTask[],
  options: ReclusterOptions,
  newId: () => string,
): Reclustering {
  const { table, calls } = window;
  const discovery = discoverTasks(table, options.discovery);
  const membersOf = new Map<string, string[]>();
  for (const call of calls) {
    if (call.taskId === null) continue;
    const members = membersOf.get(call.taskId);
    if (members === undefined) membersOf.set(call.taskId, [call.callId]);
    else members.push(call.callId);
  }
  const { ids, changes } = reconcile(
    known.map((task) => ({
      id: task.id,
      members: membersOf.get(task.id) ?? [],
      lastCallMs: task.lastSeenMs,
    })),
    discovery.tasks.map((task) => ({
      members: Array.from(task.members, (call) => (calls[call] as WindowCall).callId),
      lastCallMs: extent(Array.from(task.members, (call) => (calls[call] as WindowCall).startMs))
        .last,
    })),
    { ...options.reconcile, nowMs: window.endMs },
    newId,
  );

  const live = discovery.tasks.flatMap((task, t) => {
    const id = ids[t];
    return id === undefined ? [] : [{ task, id }];
  });
  const terms = distinctiveTerms(
    live.map(({ task }) =>
      sample(task.members, options.labelSample).map((call) => (calls[call] as WindowCall).terms),
    ),
  );
  const signatureOf = (digest: string | undefined) =>
    table.signatures.find((signature) => signature.digest === digest) as SignatureFacts;
  const tenant = { calls: calls.length, cost: tenantCost(calls, options.prices) };
  const tasks = live.map(({ task, id }, t): FoundTask => {
    const members = Array.from(task.members, (call) => ({
      ...(calls[call] as WindowCall),
      similarity:
        task.centroid !== undefined && table.hasVector[call] === 1
          ? dotRow(table.vectors, call, task.centroid, 0, table.dimension)
          : undefined,
    }));
    const signature = signatureOf(task.signatures[0]?.digest);
    const keywords = terms[t] ?? [];
    const times = members.map((call) => call.startMs);
    const { first, last } = extent(times);
    return {
      id,
      members: task.members,
      signature,
      signatures: task.signatures.map(({ digest }) => digest),
      structure: task.structure,
      label: taskLabel(signature, keywords),
      keywords,
      centroid: task.centroid,
      threshold: task.threshold,
      representativeCallIds: typical(window, task, options.representatives),
      callsPerDay: callsPerDay(times, window.endMs, rateDays(window)),
      firstSeenMs: first,
      lastSeenMs: last,
      assessment: profileTask(members, {
        prices: options.prices,
        window: { startMs: window.startMs, endMs: window.endMs },
        tenant,
        responseFormatDemanded: isJsonDemanded(signature),
      }),
    };
  });

  const idOf = (task: number) => (task >= 0 ? (ids[task] ?? null) : null);
  const byId = (map: ReadonlyMap<string, number>) =>
    new Map(
      [...map].flatMap(([key, task]) => {
        const id = idOf(task);
        return id === null ? [] : [[key, id] as const];
      }),
    );
  return {
    tasks,
    changes,
    assignment: Array.from(discovery.assignment, idOf),
    signatureTasks: byId(discovery.signatureTasks),
    placeTasks: byId(discovery.placeTasks),
  };
}

/** Up to `count` members, evenly spread. */
function sample(members: Int32Array, count: number): number[] {
  const step = Math.max(1, members.length / count);
  const picked: number[] = [];
  for (let i = 0; i < members.length && picked.length < count; i += step)
    picked.push(members[Math.floor(i)] as number);
  return picked;
}

/** Calls nearest the centroid, one per distinct input; the newest calls without a centroid. */
function typical(
  window: CallWindow,
  task: { readonly members: Int32Array; readonly centroid: Float64Array | undefined },
  count: number,
): string[] {
  const { table, calls } = window;
  const callOf = (i: number) => calls[i] as WindowCall;
  const chosen =
    task.centroid === undefined
      ? Array.from(task.members)
          .sort((a, b) => callOf(b).startMs - callOf(a).startMs || a - b)
          .slice(0, count)
      : representatives(
          table.vectors,
          table.dimension,
          task.members,
          task.centroid,
          (i) => callOf(i).contentHash || callOf(i).callId,
          count,
        );
  return chosen.map((i) => callOf(i).callId);
}

/** Earliest and latest of `times` (a loop: spreading a million arguments overflows the stack). */
function extent(times: readonly number[]): { first: number; last: number } {
  let first = Infinity;
  let last = -Infinity;
  for (const time of times) {
    if (time < first) first = time;
    if (time > last) last = time;
  }
  return { first, last };
}

/** Days the rate is averaged over: the trailing week, or the window if it is younger. */
function rateDays(window: CallWindow): number {
  const day = 86_400_000;
  return Math.min(7, Math.max(1 / 24, (window.endMs - window.startMs) / day));
}
