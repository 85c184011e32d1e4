import { z } from 'zod';
import type { Failure, Progress, RunSpec, TrainingResult } from './run.js';

/** What the trainer reports on stdout, one JSON object per line (the trainer CLI contract). */
export type TrainerReport =
  | { readonly event: 'progress'; readonly progress: Progress }
  | {
      readonly event: 'succeeded';
      readonly adapterUri: string;
      readonly metrics: Readonly<Record<string, number>>;
      readonly result: TrainingResult;
    }
  | { readonly event: 'failed'; readonly failure: Failure };

const finite = z.number();
const count = z.number().int().nonnegative();
// Non-numeric metrics (e.g. a runtime string) are dropped rather than failing the run.
const metrics = z.record(z.string(), z.unknown()).default({});
const line = z.discriminatedUnion('event', [
  z.object({
    event: z.literal('progress'),
    step: z.number().int().nonnegative(),
    total_steps: z.number().int().nonnegative(),
    loss: finite,
    epoch: finite,
    eval_loss: finite.optional(),
    learning_rate: finite.optional(),
  }),
  z.object({
    event: z.literal('succeeded'),
    adapter: z.string().min(1),
    metrics,
    // What the registry records with the adapter; absent from older trainers' lines.
    files: z
      .array(
        z.object({
          path: z.string().min(1),
          size_bytes: count,
          sha256: z.string().regex(/^[0-9a-f]{64}$/),
        }),
      )
      .default([]),
    footprint: z
      .object({
        base_parameter_count: count,
        adapter_parameter_count: count,
        serving_memory_bytes: count,
        dtype: z.string(),
      })
      .nullish(),
    license: z.string().nullish(),
    evaluation: z
      .object({
        evaluator_version: z.string().min(1),
        split: z.literal('eval'),
        example_count: count,
        metrics,
      })
      .nullish(),
  }),
  z.object({
    event: z.literal('failed'),
    reason: z.string(),
    retryable: z.boolean().default(false),
  }),
]);

/**
 * The report on one stdout line, or undefined for anything else (blank lines, stray prints of
 * libraries): only lines that parse as the contract's objects count.
 */
export function parseTrainerLine(text: string, now: Date): TrainerReport | undefined {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch {
    return undefined;
  }
  const parsed = line.safeParse(json);
  if (!parsed.success) return undefined;
  const report = parsed.data;
  switch (report.event) {
    case 'progress':
      return {
        event: 'progress',
        progress: {
          step: report.step,
          totalSteps: report.total_steps,
          loss: report.loss,
          epoch: report.epoch,
          ...(report.eval_loss !== undefined && { evalLoss: report.eval_loss }),
          ...(report.learning_rate !== undefined && { learningRate: report.learning_rate }),
          reportedAt: now,
        },
      };
    case 'succeeded': {
      const { footprint, license, evaluation } = report;
      return {
        event: 'succeeded',
        adapterUri: report.adapter,
        metrics: numbers(report.metrics),
        result: {
          files: report.files.map(({ path, size_bytes, sha256 }) => ({
            path,
            sizeBytes: size_bytes,
            sha256,
          })),
          ...(footprint != null && {
            footprint: {
              baseParameterCount: footprint.base_parameter_count,
              adapterParameterCount: footprint.adapter_parameter_count,
              servingMemoryBytes: footprint.serving_memory_bytes,
              dtype: footprint.dtype,
            },
          }),
          ...(license != null && license !== '' && { license }),
          ...(evaluation != null && {
            evaluation: {
              evaluatorVersion: evaluation.evaluator_version,
              exampleCount: evaluation.example_count,
              metrics: numbers(evaluation.metrics),
            },
          }),
        },
      };
    }
    case 'failed':
      return { event: 'failed', failure: { reason: report.reason, retryable: report.retryable } };
  }
}

/** The finite numbers of a metrics object. */
const numbers = (values: Record<string, unknown>): Record<string, number> =>
  Object.fromEntries(
    Object.entries(values).filter(
      (entry): entry is [string, number] =>
        typeof entry[1] === 'number' && Number.isFinite(entry[1]),
    ),
  );

/** Splits a byte stream into lines, yielding each complete one. */
export async function* lines(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  let rest = '';
  for await (const chunk of chunks) {
    rest += chunk.toString();
    let newline = rest.indexOf('\n');
    while (newline >= 0) {
      yield rest.slice(0, newline);
      rest = rest.slice(newline + 1);
      newline = rest.indexOf('\n');
    }
  }
  if (rest !== '') yield rest;
}

/** What an executor needs to start the trainer for a run. */
export interface TrainerInvocation extends RunSpec {
  readonly runId: string;
  readonly outputUri: string;
}

/** `train --dataset … --output … --base-model … --run-id … [--config JSON]`, per the CLI contract. */
export function trainerArguments(invocation: TrainerInvocation): string[] {
  const { datasetUri, outputUri, baseModel, runId, hyperParameters } = invocation;
  const args = [
    'train',
    '--dataset',
    datasetUri,
    '--output',
    outputUri,
    '--base-model',
    baseModel,
    '--run-id',
    runId,
  ];
  if (Object.keys(hyperParameters).length > 0) {
    args.push('--config', JSON.stringify(hyperParameters));
  }
  return args;
}
