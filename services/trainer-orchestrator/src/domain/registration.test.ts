import { create } from '@bufbuild/protobuf';
import {
  AdapterFormat,
  DatasetSplit,
  EvaluationKind,
  EvaluationVerdict,
  TeacherModelSchema,
} from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import {
  evaluationRequestId,
  heldOutEvaluation,
  modelVersionOf,
  verdictOf,
} from './registration.js';
import { runId, succeededRun as succeeded } from '../testing/runs.js';

describe('modelVersionOf', () => {
  it('registers the adapter’s files, format, licence and footprint', () => {
    const version = modelVersionOf(succeeded());
    expect(version).toMatchObject({
      tenantId: 'acme',
      taskId: 'task-7',
      runId,
      datasetId: 'd-1',
      baseModel: 'Qwen/Qwen2.5-0.5B-Instruct',
      metrics: { train_loss: 1.2, eval_loss: 1.4 },
      license: 'apache-2.0',
      footprint: {
        baseParameterCount: 494_032_768n,
        adapterParameterCount: 8_798_208n,
        servingMemoryBytes: 1_005_661_952n,
        dtype: 'bfloat16',
      },
      adapter: {
        bucket: 'understudy',
        prefix: `training-runs/acme/${runId}/adapter`,
        baseModel: 'Qwen/Qwen2.5-0.5B-Instruct',
        loraRank: 16,
        format: AdapterFormat.PEFT_LORA_SAFETENSORS,
        sizeBytes: 35_238_016n,
      },
    });
    expect(
      version.adapter?.files.map(({ bucket, key, sha256, sizeBytes }) => ({
        bucket,
        key,
        sha256,
        sizeBytes,
      })),
    ).toEqual([
      {
        bucket: 'understudy',
        key: `training-runs/acme/${runId}/adapter/adapter_config.json`,
        sha256: 'a'.repeat(64),
        sizeBytes: 912n,
      },
      {
        bucket: 'understudy',
        key: `training-runs/acme/${runId}/adapter/adapter_model.safetensors`,
        sha256: 'b'.repeat(64),
        sizeBytes: 35_237_104n,
      },
    ]);
  });

  it('leaves out what an older trainer did not report', () => {
    const version = modelVersionOf(succeeded({ result: { files: [] } }));
    expect(version.license).toBe('');
    expect(version.footprint).toBeUndefined();
    expect(version.adapter).toMatchObject({ files: [], sizeBytes: 0n });
  });
});

const teacher = (model: string, exampleCount: bigint) =>
  create(TeacherModelSchema, { model, exampleCount });
const gpt = [teacher('gpt-4o-2024-08-06', 80n)];

describe('heldOutEvaluation', () => {
  it('records the trainer’s metrics on the dataset’s EVAL split, without a verdict by default', () => {
    const evaluation = heldOutEvaluation(succeeded(), 'mv-1', {}, gpt);
    expect(evaluation).toMatchObject({
      tenantId: 'acme',
      modelVersionId: 'mv-1',
      kind: EvaluationKind.OFFLINE,
      datasetId: 'd-1',
      split: DatasetSplit.EVAL,
      evaluatorVersion: 'greedy-teacher-match@1',
      exampleCount: 64n,
      metrics: { exact_match: 0.72, token_f1: 0.91 },
      verdict: EvaluationVerdict.UNSPECIFIED,
      teacherModel: 'gpt-4o-2024-08-06',
    });
    expect(evaluation?.summary).toBe(
      "The trainer's greedy-teacher-match@1 scored the adapter's answers to 64 held-out prompts " +
        "of dataset d-1 against the teacher's: exact_match 0.720, token_f1 0.910.",
    );
  });

  it('names the teacher with most examples and lists them all when there are several', () => {
    const teachers = [teacher('claude-sonnet-4', 3n), teacher('gpt-4o-2024-08-06', 61n)];
    const evaluation = heldOutEvaluation(succeeded(), 'mv-1', {}, teachers);
    expect(evaluation?.teacherModel).toBe('gpt-4o-2024-08-06');
    expect(evaluation?.summary).toMatch(
      /against the teacher's: exact_match 0\.720, token_f1 0\.910\. The dataset's answers come from several teachers: gpt-4o-2024-08-06 \(61 examples\), claude-sonnet-4 \(3 examples\)\.$/,
    );
  });

  it('names no teacher for a dataset that records none', () => {
    expect(heldOutEvaluation(succeeded(), 'mv-1', {}, [])?.teacherModel).toBe('');
  });

  it('gives a verdict against the configured minimums', () => {
    expect(heldOutEvaluation(succeeded(), 'mv-1', { exact_match: 0.7 }, gpt)).toMatchObject({
      verdict: EvaluationVerdict.PASSED,
      summary: expect.stringMatching(/Passed: exact_match >= 0\.7\.$/) as string,
    });
    expect(heldOutEvaluation(succeeded(), 'mv-1', { exact_match: 0.8 }, gpt)).toMatchObject({
      verdict: EvaluationVerdict.FAILED,
      summary: expect.stringMatching(/Failed: exact_match 0\.720 < 0\.8\.$/) as string,
    });
  });

  it('is absent when the trainer evaluated nothing', () => {
    expect(
      heldOutEvaluation(succeeded({ result: { files: [] } }), 'mv-1', {}, gpt),
    ).toBeUndefined();
  });
});

describe('verdictOf', () => {
  it('fails on a metric the evaluation lacks', () => {
    expect(verdictOf({ exact_match: 0.9 }, { exact_match: 0.5, tool_call_match: 0.5 })).toEqual({
      verdict: EvaluationVerdict.FAILED,
      reason: 'Failed: tool_call_match is missing (needs 0.5).',
    });
  });
});

describe('evaluationRequestId', () => {
  it('is a UUID of its own per run, the same on every retry', () => {
    const id = evaluationRequestId(runId);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(evaluationRequestId(runId)).toBe(id);
    expect(id).not.toBe(runId);
    expect(evaluationRequestId('another-run')).not.toBe(id);
  });
});
