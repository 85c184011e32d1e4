/**
 * Replays the corpus day by day as the service will run: each day's calls are assigned online
 * against the index of the last batch run; at the end of each day a batch run re-clusters the
 * trailing window, and `reconcile` carries task ids over. Measures how stable ids are and what
 * happened when (discoveries, merges, splits, retirements), against the ground truth.
 */
import {
  discoverTasks,
  type CallTable,
  type DiscoveryPolicy,
} from '../src/domain/discovery/discovery.js';
import { TaskIndex } from '../src/domain/discovery/online.js';
import {
  reconcile,
  defaultReconcileShares,
  type PreviousTask,
  type TaskChange,
} from '../src/domain/discovery/reconcile.js';
import { pickRows } from '../src/domain/discovery/vectors.js';
import { agreement } from '../src/testing/metrics.js';
import type { BenchTable } from './table.js';

export interface StabilityOptions {
  readonly startMs: number;
  readonly firstDay: number;
  readonly lastDay: number;
  readonly windowDays: number;
  readonly retireAfterDays: number;
}

export interface RunRecord {
  readonly day: number;
  readonly windowCalls: number;
  readonly tasks: number;
  /** Of the calls in this and the previous run's window, assigned by both: share with the same id. */
  readonly retained: number | undefined;
  readonly comparedCalls: number;
  /** Online assignment of this day's calls (against the previous run's index), against the truth. */
  readonly onlineAri: number | undefined;
  /** Share of this day's calls that online assignment put in the task the batch then chose. */
  readonly onlineMatchesBatch: number | undefined;
  readonly onlineUnassigned: number | undefined;
  readonly changes: readonly string[];
}

export interface StabilityReport {
  readonly runs: readonly RunRecord[];
  /** Per ground-truth task: the ids its calls mostly carried, run by run (undefined: none). */
  readonly idsByTruth: ReadonlyMap<string, readonly (string | undefined)[]>;
}

const dayMs = 86_400_000;

export function replay(
  table: BenchTable,
  callIds: readonly string[],
  policy: DiscoveryPolicy,
  options: StabilityOptions,
): StabilityReport {
  const dayOf = Int32Array.from(table.timesMs, (time) =>
    Math.floor((time - options.startMs) / dayMs),
  );
  let next = 0;
  const newId = () => `t${String(++next).padStart(3, '0')}`;
  let previous: PreviousTask[] = [];
  let index: TaskIndex | undefined;
  let lastBatch = new Map<number, string>();
  const current = new Map<number, string>(); // call → task id, as last assigned
  const runs: RunRecord[] = [];
  const truthNames = [...new Set(table.truth)].sort();
  const idsByTruth = new Map<string, (string | undefined)[]>(truthNames.map((name) => [name, []]));

  for (let day = options.firstDay; day <= options.lastDay; day++) {
    const today = indicesWhere(dayOf, (d) => d === day);
    let online: { ari: number; matches: number; unassigned: number } | undefined;
    const onlineIds = new Map<number, string | undefined>();
    if (index !== undefined) {
      for (const call of today) {
        const vector =
          table.hasVector[call] === 1
            ? table.vectors.subarray(call * table.dimension, (call + 1) * table.dimension)
            : undefined;
        const signature = table.signatures[table.signatureOf[call] as number];
        const taskId =
          signature === undefined ? undefined : index.assign(signature, vector)?.taskId;
        onlineIds.set(call, taskId);
        if (taskId !== undefined) current.set(call, taskId);
      }
    }

    const window = indicesWhere(dayOf, (d) => d > day - options.windowDays && d <= day);
    const nowMs = options.startMs + (day + 1) * dayMs;
    const discovery = discoverTasks(subTable(table, window), policy);
    const clusters = discovery.tasks.map((task) => ({
      members: Array.from(task.members, (local) => callIds[window[local] as number] as string),
      lastCallMs: Array.from(
        task.members,
        (local) => table.timesMs[window[local] as number] as number,
      ).reduce((latest, time) => Math.max(latest, time), -Infinity),
    }));
    const inWindow = new Set(window);
    const members = new Map<string, string[]>();
    for (const [call, id] of current) {
      if (inWindow.has(call))
        members.set(id, [...(members.get(id) ?? []), callIds[call] as string]);
    }
    const { ids, changes } = reconcile(
      previous.map((task) => ({ ...task, members: members.get(task.id) ?? [] })),
      clusters,
      { nowMs, retireAfterMs: options.retireAfterDays * dayMs, ...defaultReconcileShares },
      newId,
    );

    const batch = new Map<number, string>();
    discovery.tasks.forEach((task, t) => {
      const id = ids[t];
      if (id === undefined) return;
      for (const local of task.members) batch.set(window[local] as number, id);
    });
    if (index !== undefined) {
      const truth = today.map((call) => table.truth[call] as string);
      const predicted = today.map((call) => onlineIds.get(call) ?? '-');
      const judged = today.filter((call) => batch.has(call));
      online = {
        ari: agreement(truth, predicted).ari,
        matches:
          judged.filter((call) => onlineIds.get(call) === batch.get(call)).length /
          Math.max(1, judged.length),
        unassigned: predicted.filter((id) => id === '-').length / Math.max(1, today.length),
      };
    }
    const shared = window.filter((call) => lastBatch.has(call) && batch.has(call));
    const same = shared.filter((call) => lastBatch.get(call) === batch.get(call)).length;

    for (const name of truthNames) {
      const votes = new Map<string, number>();
      for (const call of window) {
        const id = batch.get(call);
        if (table.truth[call] === name && id !== undefined) votes.set(id, (votes.get(id) ?? 0) + 1);
      }
      const top = [...votes].sort((a, b) => b[1] - a[1])[0];
      idsByTruth.get(name)?.push(top?.[0]);
    }
    runs.push({
      day,
      windowCalls: window.length,
      tasks: ids.filter((id) => id !== undefined).length,
      retained: shared.length === 0 ? undefined : same / shared.length,
      comparedCalls: shared.length,
      onlineAri: online?.ari,
      onlineMatchesBatch: online?.matches,
      onlineUnassigned: online?.unassigned,
      changes: changes.filter((change) => change.kind !== 'continued').map(describe),
    });

    current.clear();
    for (const [call, id] of batch) current.set(call, id);
    lastBatch = batch;
    previous = clusters.flatMap((cluster, t) => {
      const id = ids[t];
      return id === undefined
        ? []
        : [{ id, members: cluster.members, lastCallMs: cluster.lastCallMs }];
    });
    index = new TaskIndex(
      table.dimension,
      discovery.tasks.flatMap((task, t) => {
        const id = ids[t];
        return id === undefined
          ? []
          : [{ id, structure: task.structure, centroid: task.centroid, threshold: task.threshold }];
      }),
      mapIds(discovery.signatureTasks, ids),
      mapIds(discovery.placeTasks, ids),
    );
  }
  return { runs, idsByTruth };
}

function describe(change: TaskChange): string {
  switch (change.kind) {
    case 'discovered':
    case 'continued':
      return `${change.kind} ${change.id}`;
    case 'merged':
      return `merged ${change.sources.join('+')} → ${change.id}`;
    case 'split':
      return `split ${change.source} → ${change.parts.map((part) => part.id).join('+')}`;
    case 'retired':
      return `retired ${change.id} (${change.reason})`;
  }
}

function mapIds(
  map: ReadonlyMap<string, number>,
  ids: readonly (string | undefined)[],
): Map<string, string> {
  return new Map(
    [...map].flatMap(([key, task]) => {
      const id = ids[task];
      return id === undefined ? [] : [[key, id] as const];
    }),
  );
}

function indicesWhere(values: Int32Array, test: (value: number) => boolean): number[] {
  const indices: number[] = [];
  values.forEach((value, i) => {
    if (test(value)) indices.push(i);
  });
  return indices;
}

/** The calls at `indices` as a table of their own (signatures shared). */
export function subTable(table: CallTable, indices: readonly number[]): CallTable {
  return {
    dimension: table.dimension,
    vectors: pickRows(table.vectors, indices, table.dimension),
    hasVector: Uint8Array.from(indices, (i) => table.hasVector[i] as number),
    signatureOf: Int32Array.from(indices, (i) => table.signatureOf[i] as number),
    signatures: table.signatures,
  };
}
