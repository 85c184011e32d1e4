import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chatCall } from '../testing/calls.js';
import { datasetFiles } from './files.js';
import { planDataset } from './plan.js';

describe('datasetFiles', () => {
  const calls = ['alpha', 'bravo', 'charlie', 'delta'].map((word) =>
    chatCall({ callId: word, user: `about ${word}`, answer: word.toUpperCase() }),
  );
  const plan = planDataset(
    {
      tenantId: 'acme',
      taskId: 'task-1',
      revision: 3n,
      memberCallIds: [...calls.map((c) => c.callId), 'gone'],
    },
    new Map(calls.map((call) => [call.callId, call])),
    { minCalls: 2, evalFraction: 0.25 },
  );
  if (plan === undefined) throw new Error('plan expected');
  const files = datasetFiles(plan, {
    tenantId: 'acme',
    taskId: 'task-1',
    taskRevision: 3n,
    bucket: 'understudy',
    builderVersion: 'dataset-builder@0.1.0',
    evalFraction: 0.25,
    createdAt: new Date('2026-02-01T00:00:00Z'),
  });

  it('writes one JSON object per line per split, under the dataset prefix', () => {
    const prefix = `datasets/acme/task-1/${plan.datasetId}`;
    expect(files.train.key).toBe(`${prefix}/train.jsonl`);
    expect(files.eval.key).toBe(`${prefix}/eval.jsonl`);
    expect(files.manifest.key).toBe(`${prefix}/manifest.json`);
    const rows = files.train.body.toString().split('\n');
    expect(rows.pop()).toBe('');
    expect(rows).toHaveLength(3);
    expect(files.eval.rows).toBe(1);
    expect(JSON.parse(files.eval.body.toString())).toHaveProperty('messages');
  });

  it('describes the splits, their hashes and the excluded calls in the manifest', () => {
    const sha = (body: Buffer) => createHash('sha256').update(body).digest('hex');
    const manifest: unknown = JSON.parse(files.manifest.body.toString());
    expect(manifest).toEqual({
      format: 'openai-chat-jsonl',
      dataset_id: plan.datasetId,
      task_id: 'task-1',
      tenant_id: 'acme',
      splits: {
        train: {
          uri: `s3://understudy/${files.train.key}`,
          rows: 3,
          sha256: sha(files.train.body),
        },
        eval: { uri: `s3://understudy/${files.eval.key}`, rows: 1, sha256: sha(files.eval.body) },
      },
      created_at: '2026-02-01T00:00:00.000Z',
      source_window: { start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T00:00:00.001Z' },
      task_revision: '3',
      builder_version: 'dataset-builder@0.1.0',
      eval_fraction: 0.25,
      member_hash: plan.memberHash,
      source_call_count: 5,
      excluded: {
        not_captured: 1,
        no_content: 0,
        encrypted: 0,
        error: 0,
        no_output: 0,
        unsupported_content: 0,
      },
      source_calls: {
        train: plan.train.map(({ callId }) => callId),
        eval: plan.eval.map(({ callId }) => callId),
      },
    });
    expect(files.manifest.sha256).toBe(sha(files.manifest.body));
  });
});
