import { createHash } from 'node:crypto';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import type { LlmCall } from '@understudy/contracts';
import type { ContentKeyring } from '@understudy/tenancy';
import { exclusionReasons, renderCall, type ChatExample, type ExclusionReason } from './render.js';
import { nearDuplicateKey, splitExamples } from './split.js';

/**
 * Version of the rendering and split rules. It is part of the dataset id: a builder that would
 * write different files for the same members names them differently.
 */
export const DATASET_FORMAT_VERSION = 1;

/** What the builder knows of a task: its members as of a clusterer revision. */
export interface TaskMembers {
  readonly tenantId: string;
  readonly taskId: string;
  readonly revision: bigint;
  readonly memberCallIds: readonly string[];
}

export interface BuildPolicy {
  /** Usable calls (content captured, succeeded, renderable) a task needs before it gets a dataset. */
  readonly minCalls: number;
  /** Share of examples held out for evaluation, in (0, 1). */
  readonly evalFraction: number;
}

export interface Example {
  readonly callId: string;
  readonly groupKey: string;
  readonly startTime: Date | undefined;
  /** The LLM whose answer the example holds; empty when the call names none. */
  readonly teacherModel: string;
  readonly example: ChatExample;
}

/** An LLM whose answers a dataset's examples hold, and how many of them. */
export interface TeacherModelCount {
  readonly model: string;
  readonly exampleCount: number;
}

export interface DatasetPlan {
  readonly datasetId: string;
  /** SHA-256 of the sorted member call ids: the identity of the source set. */
  readonly memberHash: string;
  readonly train: readonly Example[];
  readonly eval: readonly Example[];
  /** Members considered, usable or not. */
  readonly sourceCallCount: number;
  readonly excluded: Readonly<Record<ExclusionReason, number>>;
  /** Half-open window around the start times of the usable calls, when they have any. */
  readonly window: { readonly start: Date; readonly end: Date } | undefined;
  /** Across train and eval, most examples first; calls that name no model are not counted. */
  readonly teacherModels: readonly TeacherModelCount[];
}

/**
 * The dataset a task's members make, or undefined while fewer than `minCalls` of them are usable.
 * `calls` holds the captured calls by id; members not in it have not been captured (yet). The
 * keyring opens encrypted content.
 */
export function planDataset(
  task: TaskMembers,
  calls: ReadonlyMap<string, LlmCall>,
  policy: BuildPolicy,
  keyring?: ContentKeyring,
): DatasetPlan | undefined {
  const members = [...new Set(task.memberCallIds)].sort();
  const excluded = Object.fromEntries(exclusionReasons.map((reason) => [reason, 0])) as Record<
    ExclusionReason,
    number
  >;
  const examples: Example[] = [];
  for (const callId of members) {
    const call = calls.get(callId);
    if (call === undefined) {
      excluded.not_captured += 1;
      continue;
    }
    const rendered = renderCall(call, keyring);
    if (!rendered.ok) {
      excluded[rendered.reason] += 1;
      continue;
    }
    const start = call.timing?.startTime;
    examples.push({
      callId,
      groupKey: nearDuplicateKey(JSON.stringify(rendered.example.messages.slice(0, -1))),
      startTime: start === undefined ? undefined : timestampDate(start),
      // Sources that report no response model leave the model asked for as the best name.
      teacherModel: call.responseModel || call.requestModel,
      example: rendered.example,
    });
  }
  if (examples.length < policy.minCalls || examples.length === 0) return undefined;

  const memberHash = sha256(members.join('\n'));
  const split = splitExamples(examples, task.taskId, policy.evalFraction);
  return {
    datasetId: datasetIdOf(task, memberHash, policy.evalFraction),
    memberHash,
    train: split.train,
    eval: split.eval,
    sourceCallCount: members.length,
    excluded,
    window: windowOf(examples),
    teacherModels: teacherModelsOf(examples),
  };
}

/**
 * Derived from everything that decides the files' bytes, so that a redelivered event finds the
 * dataset it already built instead of building a twin.
 */
export function datasetIdOf(
  task: Pick<TaskMembers, 'tenantId' | 'taskId'>,
  memberHash: string,
  evalFraction: number,
): string {
  const identity = [
    task.tenantId,
    task.taskId,
    memberHash,
    String(evalFraction),
    String(DATASET_FORMAT_VERSION),
  ];
  return `ds-${sha256(identity.join('\n')).slice(0, 32)}`;
}

function windowOf(examples: readonly Example[]): DatasetPlan['window'] {
  const times = examples.flatMap(({ startTime }) => (startTime ? [startTime.getTime()] : []));
  if (times.length === 0) return undefined;
  // The window is half-open: its end lies just after the last start.
  const first = times.reduce((a, b) => Math.min(a, b));
  const last = times.reduce((a, b) => Math.max(a, b));
  return { start: new Date(first), end: new Date(last + 1) };
}

/** Most examples first, then by name, so that the same examples always list the same way. */
function teacherModelsOf(examples: readonly Example[]): TeacherModelCount[] {
  const counts = new Map<string, number>();
  for (const { teacherModel } of examples) {
    if (teacherModel !== '') counts.set(teacherModel, (counts.get(teacherModel) ?? 0) + 1);
  }
  return [...counts]
    .map(([model, exampleCount]) => ({ model, exampleCount }))
    .sort((a, b) => b.exampleCount - a.exampleCount || a.model.localeCompare(b.model));
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
