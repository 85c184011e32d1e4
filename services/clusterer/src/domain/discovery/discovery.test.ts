import { ResponseFormatType } from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { callTable, signature, SyntheticSpace } from '../../testing/vectors.js';
import { defaultDiscoveryPolicy, discoverTasks, type DiscoveryPolicy } from './discovery.js';
import type { SignatureFacts } from './structure.js';

const dimension = 32;
const policy: DiscoveryPolicy = { ...defaultDiscoveryPolicy, minClusterSize: 10 };

interface Row {
  readonly signature: SignatureFacts;
  readonly vector?: Float32Array;
  readonly truth: string;
}

/** The tasks each ground-truth label's calls went to (−1: unassigned). */
function destinations(rows: readonly Row[], assignment: Int32Array): Map<string, Set<number>> {
  const map = new Map<string, Set<number>>();
  rows.forEach((row, i) => {
    map.set(row.truth, (map.get(row.truth) ?? new Set()).add(assignment[i] as number));
  });
  return map;
}

const only = (set: Set<number> | undefined) => {
  expect(set?.size).toBe(1);
  return [...(set ?? [])][0] as number;
};

describe('discoverTasks', () => {
  const space = new SyntheticSpace(dimension, 11);
  const assistant = signature('assistant', { stepName: '' });
  const router = signature('router', {
    stepName: 'route',
    responseFormat: ResponseFormatType.JSON_SCHEMA,
    responseSchemaHash: 'route-schema',
  });
  const extract = (digest: string, agentName: string) =>
    signature(digest, {
      agentName,
      stepName: 'extract',
      responseFormat: ResponseFormatType.JSON_SCHEMA,
      responseSchemaHash: 'invoice',
    });
  const withTools = signature('extract-tools', { stepName: 'extract', toolNames: ['ocr'] });
  const [job1, job2, job3, topic1, topic2, invoice] = Array.from({ length: 6 }, () =>
    space.direction(),
  );
  const sample = (sig: SignatureFacts, center: Float32Array, n: number, truth: string): Row[] =>
    Array.from({ length: n }, () => ({
      signature: sig,
      vector: space.around(center, 0.15),
      truth,
    }));
  const rows: Row[] = [
    ...sample(assistant, job1 as Float32Array, 60, 'translate'),
    ...sample(assistant, job2 as Float32Array, 60, 'sql'),
    ...sample(assistant, job3 as Float32Array, 60, 'email'),
    ...sample(router, topic1 as Float32Array, 60, 'route'),
    ...sample(router, topic2 as Float32Array, 60, 'route'),
    ...sample(extract('extract-a', 'parser'), invoice as Float32Array, 50, 'extract'),
    ...sample(extract('extract-b', 'ap-bot'), invoice as Float32Array, 50, 'extract'),
    ...sample(withTools, invoice as Float32Array, 50, 'extract-with-tools'),
  ];
  const table = callTable(dimension, rows);

  it('splits an open-ended prompt by content, keeps a one-job step whole, merges paraphrased templates', () => {
    const { tasks, assignment } = discoverTasks(table, policy);
    const where = destinations(rows, assignment);
    const found = ['translate', 'sql', 'email', 'route', 'extract', 'extract-with-tools'].map(
      (truth) => only(where.get(truth)),
    );
    expect(new Set(found).size).toBe(6);
    expect(found.every((task) => task >= 0)).toBe(true);
    expect(tasks).toHaveLength(6);
    const extractTask = tasks[found[4] as number];
    expect(extractTask?.signatures.map((s) => s.digest).sort()).toEqual(['extract-a', 'extract-b']);
    expect(extractTask?.members).toHaveLength(100);
  });

  it('reports each task with a unit centroid that accepts its typical members', () => {
    const { tasks } = discoverTasks(table, policy);
    for (const task of tasks) {
      const centroid = task.centroid as Float64Array;
      expect(Math.hypot(...centroid)).toBeCloseTo(1, 6);
      expect(task.threshold).toBeGreaterThan(0);
      expect(task.threshold).toBeLessThan(1);
    }
  });

  it('maps one-job signatures to their task, never an open-ended one', () => {
    const { signatureTasks, assignment } = discoverTasks(table, policy);
    expect(signatureTasks.get('router')).toBe(assignment[200]);
    expect(signatureTasks.get('extract-a')).toBe(signatureTasks.get('extract-b'));
    expect(signatureTasks.has('assistant')).toBe(false);
  });

  it('changes with the split policy as the ablations intend', () => {
    const none = destinations(rows, discoverTasks(table, { ...policy, split: 'none' }).assignment);
    expect(only(none.get('translate'))).toBe(only(none.get('sql')));
    const all = destinations(rows, discoverTasks(table, { ...policy, split: 'all' }).assignment);
    expect(all.get('route')?.size).toBeGreaterThan(1);
  });

  it('finds the same tasks when an open-ended group is larger than one density run may see', () => {
    const big: Row[] = [
      ...sample(assistant, job1 as Float32Array, 150, 'translate'),
      ...sample(assistant, job2 as Float32Array, 150, 'sql'),
      ...sample(assistant, job3 as Float32Array, 150, 'email'),
    ];
    const { tasks, assignment } = discoverTasks(callTable(dimension, big), {
      ...policy,
      sampleSize: 120,
    });
    const where = destinations(big, assignment);
    const found = ['translate', 'sql', 'email'].map((truth) => only(where.get(truth)));
    expect(new Set(found).size).toBe(3);
    expect(tasks.reduce((sum, task) => sum + task.members.length, 0)).toBe(450);
  });
});

describe('discoverTasks with calls without content and small groups', () => {
  const space = new SyntheticSpace(dimension, 5);
  const [reply, other, exploded] = Array.from({ length: 3 }, () => space.direction());
  const main = signature('main', { agentName: 'desk', stepName: 'reply', toolNames: ['track'] });
  const rows: Row[] = [
    ...Array.from({ length: 50 }, () => ({
      signature: main,
      vector: space.around(reply as Float32Array, 0.1),
      truth: 'reply',
    })),
    ...Array.from({ length: 10 }, () => ({ signature: main, truth: 'reply' })),
    // The same place without content: no tools known, another digest.
    ...Array.from({ length: 8 }, () => ({
      signature: signature('main-no-content', { agentName: 'desk', stepName: 'reply' }),
      truth: 'reply',
    })),
    // Per-brand templates too small to stand alone, with the main task's content.
    ...Array.from({ length: 12 }, (_, i) => ({
      signature: signature(`brand-${String(i % 4)}`, {
        agentName: 'desk',
        stepName: 'reply',
        toolNames: ['track'],
      }),
      vector: space.around(reply as Float32Array, 0.1),
      truth: 'reply',
    })),
    // A template that never repeats (a variable escaped masking): one signature per call.
    ...Array.from({ length: 40 }, (_, i) => ({
      signature: signature(`exploded-${String(i)}`, {
        agentName: 'desk',
        stepName: 'notes',
        toolNames: ['track'],
      }),
      vector: space.around(exploded as Float32Array, 0.1),
      truth: 'notes',
    })),
    // Stray calls of the same structure, each its own template and content.
    ...Array.from({ length: 3 }, (_, i) => ({
      signature: signature(`stray-${String(i)}`, { toolNames: ['track'] }),
      vector: space.direction(),
      truth: `stray-${String(i)}`,
    })),
    // An agent that never captures content.
    ...Array.from({ length: 7 }, () => ({
      signature: signature('dark', { agentName: 'dark' }),
      truth: 'dark',
    })),
    // An open-ended prompt: its calls without content could be any of its jobs.
    ...Array.from({ length: 30 }, () => ({
      signature: signature('chat', { stepName: '' }),
      vector: space.around(other as Float32Array, 0.1),
      truth: 'chat',
    })),
    ...Array.from({ length: 4 }, () => ({
      signature: signature('chat', { stepName: '' }),
      truth: 'chat-no-content',
    })),
  ];
  const table = callTable(dimension, rows);
  const { tasks, assignment, placeTasks } = discoverTasks(table, policy);
  const where = destinations(rows, assignment);

  it('puts calls without content where their signature or its place does one job', () => {
    const reply = only(where.get('reply'));
    expect(reply).toBeGreaterThanOrEqual(0);
    expect(tasks[reply]?.members).toHaveLength(80);
    expect(placeTasks.size).toBeGreaterThan(0);
  });

  it('absorbs small groups of a known task and finds a task whose template never repeats', () => {
    const notes = only(where.get('notes'));
    expect(notes).toBeGreaterThanOrEqual(0);
    expect(notes).not.toBe(only(where.get('reply')));
    for (let i = 0; i < 3; i++) expect(only(where.get(`stray-${String(i)}`))).toBe(-1);
  });

  it('makes a task of a content-less signature no sibling explains, and leaves open-ended ones unassigned', () => {
    const dark = only(where.get('dark'));
    expect(dark).toBeGreaterThanOrEqual(0);
    expect(tasks[dark]?.centroid).toBeUndefined();
    expect(only(where.get('chat'))).toBeGreaterThanOrEqual(0);
    expect(only(where.get('chat-no-content'))).toBe(-1);
  });
});
