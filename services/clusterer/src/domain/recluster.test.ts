import { Operation, ResponseFormatType } from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { defaultDiscoveryPolicy } from './discovery/discovery.js';
import { defaultReconcileShares } from './discovery/reconcile.js';
import type { SignatureFacts } from './discovery/structure.js';
import { defaultPriceTable } from './prices.js';
import { recluster, type CallWindow, type KnownTask, type WindowCall } from './recluster.js';

const day = 86_400_000;
const now = 100 * day;
const dimension = 8;

const signature = (digest: string, stepName = '', json = false): SignatureFacts => ({
  digest,
  agentName: 'desk',
  stepName,
  operation: Operation.CHAT,
  toolNames: [],
  responseFormat: json ? ResponseFormatType.JSON_OBJECT : ResponseFormatType.TEXT,
  responseSchemaHash: '',
});
/** One general-purpose prompt doing two jobs, a JSON extraction step, and two one-offs. */
const signatures = [
  signature('assist'),
  signature('extract', 'extract', true),
  signature('once-1'),
  signature('once-2', 'other'),
];

interface Spec {
  readonly id: string;
  readonly signature: number;
  /** Axis the embedding points along; undefined: no content. */
  readonly axis: number | undefined;
  readonly terms: readonly string[];
  readonly startMs: number;
  readonly taskId?: string | null;
}

function windowOf(specs: readonly Spec[], endMs = now): CallWindow {
  const vectors = new Float32Array(specs.length * dimension);
  const hasVector = new Uint8Array(specs.length);
  specs.forEach((spec, i) => {
    if (spec.axis === undefined) return;
    const v = Array.from({ length: dimension }, (_, d) =>
      d === spec.axis ? 1 : d >= 4 ? 0.1 * Math.sin(i * 1.3 + d) : 0,
    );
    const norm = Math.hypot(...v);
    vectors.set(
      v.map((x) => x / norm),
      i * dimension,
    );
    hasVector[i] = 1;
  });
  const calls = specs.map((spec, i): WindowCall => ({
    callId: spec.id,
    taskId: spec.taskId ?? null,
    terms: spec.terms,
    startMs: spec.startMs,
    provider: 'openai',
    requestModel: 'gpt-4o',
    inputTokens: 500,
    outputTokens: 50,
    latencyMs: 800,
    failed: false,
    contentCaptured: spec.axis !== undefined,
    contentHash: spec.axis === undefined ? '' : `${spec.id.split('-')[0] ?? ''}-${String(i % 4)}`,
    similarity: undefined,
    output:
      spec.axis === undefined
        ? undefined
        : { json: spec.signature === 1, toolCall: false, digest: `${spec.id}-answer` },
  }));
  return {
    startMs: Math.min(...specs.map((spec) => spec.startMs)),
    endMs,
    table: {
      dimension,
      vectors,
      hasVector,
      signatureOf: Int32Array.from(specs, (spec) => spec.signature),
      signatures,
    },
    calls,
  };
}

const traffic = (prefix: string, count: number, base: Omit<Spec, 'id' | 'startMs'>, at = now) =>
  Array.from({ length: count }, (_, i) => ({
    ...base,
    id: `${prefix}-${String(i)}`,
    startMs: at - (i + 1) * 60_000,
  }));

const options = {
  discovery: { ...defaultDiscoveryPolicy, minTaskSize: 3, minClusterSize: 8 },
  reconcile: { ...defaultReconcileShares, retireAfterMs: 3 * day },
  prices: defaultPriceTable,
  labelSample: 50,
  representatives: 3,
};
const ids = () => {
  let next = 0;
  return () => `task-${String(++next)}`;
};

const firstTraffic = [
  ...traffic('invoice', 20, { signature: 0, axis: 0, terms: ['invoice', 'total', 'vendor'] }),
  ...traffic('refund', 20, { signature: 0, axis: 1, terms: ['refund', 'parcel', 'late'] }),
  ...traffic('extract', 20, { signature: 1, axis: 2, terms: ['address', 'postcode'] }),
  ...traffic('blind', 4, { signature: 1, axis: undefined, terms: [] }),
  { id: 'once-a', signature: 2, axis: 3, terms: ['poem'], startMs: now - 1000 },
  { id: 'once-b', signature: 3, axis: 3, terms: ['joke'], startMs: now - 2000 },
];

describe('recluster', () => {
  const first = recluster(windowOf(firstTraffic), [], options, ids());
  const taskOf = (prefix: string) =>
    first.tasks.find((task) => task.representativeCallIds.every((id) => id.startsWith(prefix)));

  it('splits a prompt that does two jobs, keeps a step whole, and leaves one-offs out', () => {
    expect(first.tasks).toHaveLength(3);
    expect(first.changes.map((change) => change.kind)).toEqual([
      'discovered',
      'discovered',
      'discovered',
    ]);
    const assigned = (prefix: string) =>
      new Set(
        firstTraffic.flatMap((spec, i) =>
          spec.id.startsWith(prefix) ? [first.assignment[i]] : [],
        ),
      );
    for (const prefix of ['invoice', 'refund', 'extract'])
      expect(assigned(prefix).size, prefix).toBe(1);
    expect(assigned('invoice')).not.toEqual(assigned('refund'));
    // Calls without content follow their signature; one-offs stay unassigned.
    expect(assigned('blind')).toEqual(assigned('extract'));
    expect([...assigned('once')]).toEqual([null]);
    expect(first.signatureTasks.get('extract')).toBe(taskOf('extract')?.id);
    expect(first.signatureTasks.has('assist')).toBe(false);
  });

  it('labels each task by where it runs and its distinctive words, with typical calls', () => {
    expect(taskOf('invoice')?.keywords.slice(0, 3).sort()).toEqual(['invoice', 'total', 'vendor']);
    expect(taskOf('invoice')?.label).toMatch(/^desk: /);
    expect(taskOf('extract')?.label).toMatch(/^desk \/ extract: /);
    // One representative per distinct input (4 distinct inputs per job here).
    expect(new Set(taskOf('refund')?.representativeCallIds).size).toBe(3);
    expect(taskOf('extract')?.members).toHaveLength(24);
  });

  it('assesses each task against the whole window', () => {
    const extract = taskOf('extract')?.assessment;
    expect(extract?.profile).toMatchObject({ windowCalls: 24n, jsonOutputShare: 1 });
    expect(extract?.profile.shareOfCalls).toBeCloseTo(24 / 66);
    expect(extract?.profile.meanSimilarity).toBeGreaterThan(0.95);
    expect(extract?.savings.savingsPerMonth).toBeGreaterThan(0);
    expect(extract?.suitability.overall).toBeGreaterThan(
      taskOf('refund')?.assessment.suitability.overall ?? 1,
    );
  });

  it('keeps ids across runs and retires a task that went idle', () => {
    const known: KnownTask[] = first.tasks.map((task) => ({
      id: task.id,
      lastSeenMs: task.lastSeenMs,
    }));
    const withTasks = firstTraffic.map((spec, i) => ({
      ...spec,
      taskId: first.assignment[i] ?? null,
    }));
    const again = recluster(windowOf(withTasks), known, options, ids());
    expect(again.tasks.map((task) => task.id).sort()).toEqual(
      first.tasks.map((task) => task.id).sort(),
    );
    expect(again.changes.every((change) => change.kind === 'continued')).toBe(true);

    // Four days on, only the invoice job still gets calls.
    const later = now + 4 * day;
    const invoiceOnly = [
      ...withTasks.filter((spec) => spec.id.startsWith('invoice')),
      ...traffic('invoice-new', 10, { signature: 0, axis: 0, terms: ['invoice', 'total'] }, later),
    ];
    const idle = recluster(windowOf(invoiceOnly, later), known, options, ids());
    expect(idle.tasks.map((task) => task.id)).toEqual([taskOf('invoice')?.id]);
    expect(idle.changes).toEqual(
      expect.arrayContaining([
        { kind: 'retired', id: taskOf('refund')?.id, reason: 'idle' },
        { kind: 'retired', id: taskOf('extract')?.id, reason: 'idle' },
      ]),
    );
  });
});
