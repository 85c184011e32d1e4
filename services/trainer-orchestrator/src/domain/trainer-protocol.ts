import { z } from 'zod';
import type { Failure, Progress, RunSpec } from './run.js';

/** What the trainer reports on stdout, one JSON object per line (the trainer CLI contract). */
export type TrainerReport =
  | { readonly event: 'progress'; readonly progress: Progress }
  | {
      readonly event: 'succeeded';
      readonly adapterUri: string;
      readonly metrics: Readonly<Record<string, number>>;
    }
  | { readonly event: 'failed'; readonly failure: Failure };

const finite = z.number();
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
    // Non-numeric metrics (e.g. a runtime string) are dropped rather than failing the run.
    metrics: z.record(z.string(), z.unknown()).default({}),
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
    case 'succeeded':
      return {
        event: 'succeeded',
        adapterUri: report.adapter,
        metrics: Object.fromEntries(
          Object.entries(report.metrics).filter(
            (entry): entry is [string, number] =>
              typeof entry[1] === 'number' && Number.isFinite(entry[1]),
          ),
        ),
      };
    case 'failed':
      return { event: 'failed', failure: { reason: report.reason, retryable: report.retryable } };
  }
}

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
