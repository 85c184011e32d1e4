import { create } from '@bufbuild/protobuf';
import {
  DatasetSplit,
  EvaluationKind,
  EvaluationSchema,
  EvaluationVerdict,
  ModelVersionSchema,
  type Evaluation,
  type ModelVersion,
  type TeacherModel,
} from '@understudy/contracts';
import { derivedUuid } from '@understudy/messaging';
import type { Run } from './run.js';
import { adapterArtifact } from './wire.js';

/*
 * What a succeeded run records in the model registry: its adapter as a model version (request id:
 * the run id), then the trainer's held-out evaluation of it (request id derived from the run id).
 * Both are built from the stored run and its immutable dataset alone, so that a retry sends the
 * same requests and the registry answers with what it recorded the first time.
 */

/** Minimum per metric for a PASSED verdict, e.g. `{ exact_match: 0.8 }`; none: no verdict. */
export type MinMetrics = Readonly<Record<string, number>>;

/** The model version of a succeeded run's adapter. */
export function modelVersionOf(run: Run): ModelVersion {
  const adapter = adapterArtifact(run);
  const { footprint, license } = run.result ?? {};
  return create(ModelVersionSchema, {
    tenantId: run.tenantId,
    taskId: run.taskId,
    runId: run.runId,
    datasetId: run.datasetId,
    baseModel: run.baseModel,
    ...(adapter !== undefined && { adapter }),
    metrics: { ...run.metrics },
    license: license ?? '',
    ...(footprint !== undefined && {
      footprint: {
        baseParameterCount: BigInt(footprint.baseParameterCount),
        adapterParameterCount: BigInt(footprint.adapterParameterCount),
        servingMemoryBytes: BigInt(footprint.servingMemoryBytes),
        dtype: footprint.dtype,
      },
    }),
  });
}

/** The request id of a run's evaluation: a UUID of its own, the same on every retry. */
export const evaluationRequestId = (runId: string): string =>
  derivedUuid(`${runId}\u0000offline-evaluation`);

/**
 * The OFFLINE evaluation of `modelVersionId` on the run's dataset's EVAL split, as the trainer
 * measured it; undefined when it reported none (no eval split, or no samples generated).
 * `teacherModels` are the dataset's: the answers compared with are theirs. The one with most
 * examples is the evaluation's teacher; when there are several, the summary lists them all.
 */
export function heldOutEvaluation(
  run: Run,
  modelVersionId: string,
  minMetrics: MinMetrics,
  teacherModels: readonly TeacherModel[],
): Evaluation | undefined {
  const evaluation = run.result?.evaluation;
  if (evaluation === undefined) return undefined;
  const verdict = verdictOf(evaluation.metrics, minMetrics);
  const teachers = [...teacherModels].sort(
    (a, b) => Number(b.exampleCount - a.exampleCount) || a.model.localeCompare(b.model),
  );
  return create(EvaluationSchema, {
    tenantId: run.tenantId,
    modelVersionId,
    kind: EvaluationKind.OFFLINE,
    datasetId: run.datasetId,
    split: DatasetSplit.EVAL,
    teacherModel: teachers[0]?.model ?? '',
    evaluatorVersion: evaluation.evaluatorVersion,
    exampleCount: BigInt(evaluation.exampleCount),
    metrics: { ...evaluation.metrics },
    verdict: verdict.verdict,
    summary: [
      `The trainer's ${evaluation.evaluatorVersion} scored the adapter's answers to ` +
        `${String(evaluation.exampleCount)} held-out prompts of dataset ${run.datasetId} ` +
        `against the teacher's: ${describe(evaluation.metrics)}.`,
      ...(teachers.length > 1
        ? [
            `The dataset's answers come from several teachers: ` +
              `${teachers.map((t) => `${t.model} (${String(t.exampleCount)} examples)`).join(', ')}.`,
          ]
        : []),
      ...(verdict.reason === undefined ? [] : [verdict.reason]),
    ].join(' '),
  });
}

/**
 * PASSED when every metric with a minimum reaches it, FAILED when one falls short or is missing
 * (a tool-call metric is, for a task whose answers call no tools); UNSPECIFIED without minimums.
 */
export function verdictOf(
  metrics: Readonly<Record<string, number>>,
  minMetrics: MinMetrics,
): { verdict: EvaluationVerdict; reason?: string } {
  const thresholds = Object.entries(minMetrics).sort(([a], [b]) => a.localeCompare(b));
  if (thresholds.length === 0) return { verdict: EvaluationVerdict.UNSPECIFIED };
  const shortfalls = thresholds.flatMap(([metric, min]) => {
    const value = metrics[metric];
    if (value === undefined) return [`${metric} is missing (needs ${String(min)})`];
    return value < min ? [`${metric} ${format(value)} < ${String(min)}`] : [];
  });
  return shortfalls.length === 0
    ? {
        verdict: EvaluationVerdict.PASSED,
        reason: `Passed: ${thresholds.map(([metric, min]) => `${metric} >= ${String(min)}`).join(', ')}.`,
      }
    : { verdict: EvaluationVerdict.FAILED, reason: `Failed: ${shortfalls.join(', ')}.` };
}

const format = (value: number) => value.toFixed(3);

const describe = (metrics: Readonly<Record<string, number>>) =>
  Object.entries(metrics)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([metric, value]) => `${metric} ${format(value)}`)
    .join(', ') || 'no metrics';
