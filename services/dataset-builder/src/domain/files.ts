import { createHash } from 'node:crypto';
import type { DatasetPlan, Example } from './plan.js';

export interface DatasetKeys {
  readonly train: string;
  readonly eval: string;
  readonly manifest: string;
}

export interface DatasetFile {
  readonly key: string;
  readonly body: Buffer;
  readonly rows: number;
  readonly sha256: string;
}

export interface DatasetFiles {
  readonly train: DatasetFile;
  readonly eval: DatasetFile;
  readonly manifest: DatasetFile;
}

export interface ManifestInput {
  readonly tenantId: string;
  readonly taskId: string;
  readonly taskRevision: bigint;
  readonly bucket: string;
  readonly builderVersion: string;
  readonly evalFraction: number;
  /** Fixed when the build is first claimed, so that a retried build writes identical bytes. */
  readonly createdAt: Date;
}

/** `datasets/<tenant>/<task>/<dataset_id>/…`. */
export function datasetKeys(tenantId: string, taskId: string, datasetId: string): DatasetKeys {
  const prefix = `datasets/${tenantId}/${taskId}/${datasetId}`;
  return {
    train: `${prefix}/train.jsonl`,
    eval: `${prefix}/eval.jsonl`,
    manifest: `${prefix}/manifest.json`,
  };
}

/**
 * The bytes of a dataset: one JSONL file per split and the manifest that describes them
 * (the trainer's contract: format, splits with URI, rows and SHA-256, source window), plus the
 * provenance people need to audit it: source call ids per split and why calls were dropped.
 */
export function datasetFiles(plan: DatasetPlan, input: ManifestInput): DatasetFiles {
  const keys = datasetKeys(input.tenantId, input.taskId, plan.datasetId);
  const train = jsonlFile(keys.train, plan.train);
  const evaluation = jsonlFile(keys.eval, plan.eval);
  const uri = (key: string) => `s3://${input.bucket}/${key}`;
  const manifest = {
    format: 'openai-chat-jsonl',
    dataset_id: plan.datasetId,
    task_id: input.taskId,
    tenant_id: input.tenantId,
    splits: {
      train: { uri: uri(train.key), rows: train.rows, sha256: train.sha256 },
      eval: { uri: uri(evaluation.key), rows: evaluation.rows, sha256: evaluation.sha256 },
    },
    created_at: input.createdAt.toISOString(),
    source_window:
      plan.window === undefined
        ? null
        : { start: plan.window.start.toISOString(), end: plan.window.end.toISOString() },
    task_revision: input.taskRevision.toString(),
    builder_version: input.builderVersion,
    eval_fraction: input.evalFraction,
    member_hash: plan.memberHash,
    source_call_count: plan.sourceCallCount,
    excluded: plan.excluded,
    source_calls: {
      train: plan.train.map(({ callId }) => callId),
      eval: plan.eval.map(({ callId }) => callId),
    },
  };
  const body = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  return {
    train,
    eval: evaluation,
    manifest: { key: keys.manifest, body, rows: 0, sha256: sha256(body) },
  };
}

function jsonlFile(key: string, examples: readonly Example[]): DatasetFile {
  const body = Buffer.from(examples.map(({ example }) => `${JSON.stringify(example)}\n`).join(''));
  return { key, body, rows: examples.length, sha256: sha256(body) };
}

function sha256(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}
